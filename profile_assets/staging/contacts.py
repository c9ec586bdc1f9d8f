"""staging.contacts: the person sources mapped, normalized once for all, and staged."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from profile_assets import normalizers as nz
from profile_assets.staging.extract import (
    Extract,
    Problems,
    Staged,
    as_bools,
    as_dates,
    as_ids,
    as_text,
    join_text,
    require_time,
    stage_sources,
)
from profile_assets.staging.tables import (
    CONTACTS,
    PERSON_FIELDS,
)

PERSON_SOURCES = ("crm_contacts", "support_users", "storefront_customers", "file_contacts")
OLDEST_BIRTH_DATE = pd.Timestamp("1900-01-01")


def _crm_person(ext: Extract) -> dict[str, pd.Series]:
    return {
        "updated_at": ext.utc("lastmodifieddate"),
        "created_at": ext.utc("createdate"),
        "is_deleted": as_bools(ext.column("archived"), False),
        "storefront_customer_id": as_ids(ext.column("storefront_customer_id")),
    }


def _support_person(ext: Extract) -> dict[str, pd.Series]:
    return {
        "updated_at": ext.utc("updated_at"),
        "created_at": ext.utc("created_at"),
        "is_deleted": ~as_bools(ext.column("active"), True),
        "storefront_customer_id": as_ids(ext.column("external_id")),
    }


def _storefront_person(ext: Extract) -> dict[str, pd.Series]:
    return {
        "updated_at": ext.utc("updated_at"),
        "created_at": ext.utc("created_at"),
        "is_deleted": pd.Series(False, index=ext.data.index),
        "storefront_customer_id": ext.record_ids,
    }


def _file_person(ext: Extract) -> dict[str, pd.Series]:
    return {
        "updated_at": ext.utc("updated"),
        "created_at": pd.Series(pd.NaT, index=ext.data.index, dtype="datetime64[ns, UTC]"),
        "is_deleted": pd.Series(False, index=ext.data.index),
        "storefront_customer_id": pd.Series(None, index=ext.data.index, dtype=object),
    }


_PERSON_ADAPTERS: Mapping[str, Callable[[Extract], dict[str, pd.Series]]] = {
    "crm_contacts": _crm_person,
    "support_users": _support_person,
    "storefront_customers": _storefront_person,
    "file_contacts": _file_person,
}


def _names(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """First/last/full names; a record holding only a full name has it split."""
    only_full = rows["full_name"].notna() & rows["first_name"].isna() & rows["last_name"].isna()
    first = _on_distinct(nz.normalize_name, rows["first_name"])
    last = _on_distinct(nz.normalize_name, rows["last_name"])
    full = join_text(first, last)
    if only_full.any():
        full_names = rows.loc[only_full, "full_name"]
        split = _on_distinct(nz.split_full_name, full_names)
        first[only_full] = split["first_name"]
        last[only_full] = split["last_name"]
        full[only_full] = _on_distinct(nz.normalize_name, full_names)
    return {"first_name": first, "last_name": last, "full_name": full}


def _birth_dates(values: pd.Series, now: pd.Timestamp, *, day_first: bool) -> pd.Series:
    """Birth dates; impossible ones (future, before 1900, unreadable) become null."""
    dates = as_dates(values, day_first=day_first)
    today = now.tz_convert("UTC").tz_localize(None).normalize()
    return dates.where((dates >= OLDEST_BIRTH_DATE) & (dates <= today))


def person_rows(ext: Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, Problems]:
    """One person source mapped to staging.contacts columns, values not yet normalized
    (`normalize_people` does that once for all sources), and its row problems."""
    rows = pd.DataFrame(
        {
            "source": ext.table,
            "source_record_id": ext.record_ids,
            **{name: ext.column(name) for name in PERSON_FIELDS if name != "date_of_birth"},
            # Numeric dates: month first where the source is American, else day first.
            "date_of_birth": _birth_dates(
                ext.column("date_of_birth"), now, day_first=ext.spec.default_region != "US"
            ),
            **_PERSON_ADAPTERS[ext.table](ext),
            "_region": ext.spec.default_region,
        }
    )
    rows["is_deleted"] = rows["is_deleted"] | ext.deleted
    problems = Problems(rows.index)
    require_time(problems, rows["updated_at"], ext.column(_updated_column(ext)), "updated_at", now)
    return rows, problems


def normalize_people(rows: pd.DataFrame) -> pd.DataFrame:
    """Normalize person fields of all sources at once, each distinct value once.

    Phones without a country code are read in the record's country, else in its source's
    default region; postcodes are formatted for the record's country.
    """
    emails = _on_distinct(nz.normalize_email, rows["email"])
    email_valid = emails["email_valid"].fillna(False).astype(bool)
    country = _on_distinct(nz.normalize_country, rows["country"])
    region = country.where(country.notna(), rows["_region"])
    phones = _on_distinct(nz.normalize_phone, rows["phone"], region)
    return rows.assign(
        **_names(rows),
        email=emails["email"],
        email_valid=email_valid,
        email_key=_on_distinct(nz.email_match_key, emails["email"]).where(email_valid),
        phone=phones["phone"].where(phones["phone"].notna(), phones["phone_raw"]),
        phone_valid=phones["phone_valid"].fillna(False).astype(bool),
        address_line1=_on_distinct(as_text, rows["address_line1"]),
        address_line2=_on_distinct(as_text, rows["address_line2"]),
        city=_on_distinct(as_text, rows["city"]),
        postcode=_on_distinct(nz.normalize_postcode, rows["postcode"], country),
        state=_on_distinct(as_text, rows["state"]),
        country=country,
    )


# Below this share of distinct inputs, normalizing the distinct values and spreading the
# results back beats normalizing every row (names, cities, countries repeat a lot).
_DISTINCT_SHARE = 0.5


def _on_distinct(normalizer: Callable, *columns: pd.Series):
    """Apply a vectorized, row-wise `normalizer` once per distinct combination of inputs."""
    index = columns[0].index
    combined = np.zeros(len(index), dtype=np.int64)
    for column in columns:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        combined = combined * (len(uniques) + 1) + (codes + 1)
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    if len(first) > _DISTINCT_SHARE * len(index):
        return normalizer(*columns)
    distinct = [column.iloc[first].reset_index(drop=True) for column in columns]
    out = normalizer(*distinct).iloc[inverse.ravel()]
    out.index = index
    return out


def _updated_column(ext: Extract) -> str:
    return {"crm_contacts": "lastmodifieddate", "file_contacts": "updated"}.get(
        ext.table, "updated_at"
    )


def stage_contacts(raws: Mapping[str, pd.DataFrame], *, now: pd.Timestamp) -> Staged:
    """staging.contacts from any subset of the person sources (`PERSON_SOURCES`)."""
    return stage_sources(
        CONTACTS, raws, PERSON_SOURCES, person_rows, now=now, finish=normalize_people
    )
