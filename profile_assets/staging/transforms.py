"""Raw extracts -> staging frames: one pure function per staging table (see STAGING_CONTRACT).

Every function does the same three things, in this order:

1. Drift first: each raw extract is checked against its source mapping in `schemas/sources/`
   (`contracts.columns.to_unified_columns`), which raises `SchemaDriftError` on an incompatible
   change, before a single value is read. Mapped vendor columns come back under their
   canonical names; additive columns are reported, not fatal.
2. Normalize, vectorized (`normalize.py`): names, emails (+ match key), phones (E.164, with the
   record's country, else the source's default region), countries, postcodes, and every
   timestamp to UTC from the source's declared time zone.
3. Sort rows into kept and rejected. A row that cannot satisfy its staging table's contract
   (no usable modification time, an amount that is not a non-negative number, a time in the
   future...) becomes a `Rejection` carrying its raw values and every reason, and the rest go
   on. Field-level defects that do not make a row unusable (an invalid email or phone, an
   impossible birth date) are flagged or nulled instead, so one bad field does not hide a
   person.

Inputs are raw tables as read from the warehouse (vendor columns plus `_source_id`, `_op`...,
one row per `_source_id`); outputs are typed with `tables.py`. No I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from profile_assets import normalizers as nz
from profile_assets.contracts.columns import to_unified_columns
from profile_assets.contracts.drift import DriftReport
from profile_assets.contracts.schema import SourceTable, load_source, load_unified
from profile_assets.quarantine.rejections import DELETE, Rejection
from profile_assets.staging.tables import CARTS, CONTACTS, ORDERS, TICKETS, WEB_ACTIVITY

PERSON_SOURCES = ("crm_contacts", "support_users", "storefront_customers", "file_contacts")
ORDER_SOURCES = ("crm_deals", "storefront_orders", "file_orders")
# Which staging.contacts source an order's customer id refers to.
ORDER_CUSTOMER_SOURCE = {
    "crm_deals": "crm_contacts",
    "storefront_orders": "storefront_customers",
    "file_orders": "file_contacts",
}
WON_DEAL_STAGE = "closedwon"
TICKET_STATUSES = frozenset({"new", "open", "pending", "solved", "closed", "deleted"})
CART_STATUSES = frozenset({"open", "converted", "abandoned"})
RATINGS = frozenset({"good", "bad"})
OLDEST_BIRTH_DATE = pd.Timestamp("1900-01-01")


def schema_version() -> str:
    """The unified schema version every staging row records."""
    return load_unified().version


@dataclass
class Staged:
    """A staging table's rows, the raw rows it refused (with reasons) and what drift saw."""

    frame: pd.DataFrame
    rejections: list[Rejection] = field(default_factory=list)
    drift: dict[str, DriftReport] = field(default_factory=dict)
    read: int = 0
    #: Rows deliberately not staged, by reason (e.g. open CRM deals are not orders).
    skipped: dict[str, int] = field(default_factory=dict)

    def metadata(self) -> dict[str, object]:
        """Plain values for the asset's MaterializeResult."""
        return {
            "rows": len(self.frame),
            "raw_rows_read": self.read,
            "rejected": len(self.rejections),
            "skipped": dict(self.skipped),
            "added_columns": {s: r.added for s, r in self.drift.items() if r.added},
            "schema_versions": {s: r.schema_version for s, r in self.drift.items()},
        }


# --------------------------------------------------------------------------- shared pieces
@dataclass(frozen=True)
class _Extract:
    """One raw table after the drift check: canonical/vendor columns plus bookkeeping."""

    table: str
    spec: SourceTable
    raw: pd.DataFrame  # as read, for rejection payloads
    data: pd.DataFrame  # mapped vendor columns renamed to canonical names
    report: DriftReport

    def column(self, name: str) -> pd.Series:
        """A declared column by its canonical name if mapped, else its vendor name; all-null
        when an optional column is absent from the extract."""
        if name in self.data.columns:
            return self.data[name]
        actual = next((c for c, v in self.report.column_map.items() if v == name), None)
        if actual is not None and actual in self.data.columns:
            return self.data[actual]
        return pd.Series(None, index=self.data.index, dtype=object)

    def utc(self, name: str) -> pd.Series:
        return nz.to_utc(self.column(name), self.spec.timezone)

    @property
    def deleted(self) -> pd.Series:
        if "_op" not in self.raw:
            return pd.Series(False, index=self.raw.index)
        return (self.raw["_op"] == DELETE).fillna(False).astype(bool)

    @property
    def record_ids(self) -> pd.Series:
        return _ids(self.raw["_source_id"])


def extract(table: str, raw: pd.DataFrame) -> _Extract:
    """Drift-check a raw table (bookkeeping columns aside) and map it to canonical names."""
    raw = raw.reset_index(drop=True)
    spec = load_source(table)
    vendor = _decode_lists(raw[[c for c in raw.columns if not str(c).startswith("_")]], spec)
    data, report = to_unified_columns(table, vendor)
    return _Extract(table, spec, raw, data, report)


def _decode_lists(vendor: pd.DataFrame, spec: SourceTable) -> pd.DataFrame:
    """List columns come back from warehouses as JSON array text (the REST loader stores them
    so; Snowflake returns ARRAYs so): decode them so drift sees lists, as the mapping says."""
    lists = [c.name for c in spec.columns.values() if c.type == "list" and c.name in vendor]
    if not lists:
        return vendor
    vendor = vendor.copy()
    for name in lists:
        vendor[name] = vendor[name].map(_json_list, na_action="ignore")
    return vendor


def _json_list(value: object) -> object:
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


class _Problems:
    """Per-row reasons a row cannot be staged, collected vectorized."""

    def __init__(self, index: pd.Index):
        self.text = pd.Series("", index=index, dtype=object)

    def add(self, mask: pd.Series, reason: str, values: pd.Series | None = None) -> None:
        """Record `reason` for the rows in `mask`, followed by their offending `values`."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        detail = reason if values is None else reason + ": " + values[mask].astype(str)
        self.text[mask] = self.text[mask] + detail + "; "

    @property
    def bad(self) -> pd.Series:
        return self.text != ""

    def rejections(self, ext: _Extract, rows: pd.Series | None = None) -> list[Rejection]:
        bad = self.bad if rows is None else self.bad & rows
        payloads = ext.raw.loc[bad].to_dict("records")
        reasons = self.text[bad].str.rstrip("; ")
        return [
            Rejection(source=ext.table, reason=f"staging: {reason}", payload=payload)
            for reason, payload in zip(reasons, payloads, strict=True)
        ]


def _ids(values: pd.Series) -> pd.Series:
    """Identifiers as text: ints stay ints ("51", not "51.0"), blanks become null."""
    if values.dtype.kind == "f":
        values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _text(values: pd.Series) -> pd.Series:
    """Free text (addresses, cities, states): NFKC, whitespace collapsed, blanks null."""
    text = nz.clean_text(values)
    return text.astype(object).where(text.notna(), None)


def _dates(values: pd.Series, *, day_first: bool = False) -> pd.Series:
    """Dates from date objects, timestamps, ISO strings, GA4's YYYYMMDD or d/m/y (m/d/y
    unless `day_first`); else NaT."""
    if values.dtype.kind == "M" or isinstance(values.dtype, pd.DatetimeTZDtype):
        stamps = pd.to_datetime(values)
        return stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps
    text = values.astype("string").str.strip()
    compact = text.str.fullmatch(r"\d{8}").fillna(False).astype(bool)
    out = pd.to_datetime(text.where(~compact), errors="coerce", format="ISO8601")
    out[compact] = pd.to_datetime(text[compact], errors="coerce", format="%Y%m%d")
    numeric = out.isna() & text.str.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}").fillna(False)
    if numeric.any():
        parts = text[numeric].str.split(r"[/.-]", regex=True, expand=True)
        day, month = (parts[0], parts[1]) if day_first else (parts[1], parts[0])
        iso = parts[2] + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
        out[numeric] = pd.to_datetime(iso, errors="coerce", format="%Y-%m-%d")
    return out.astype("datetime64[ns]")


def _numbers(values: pd.Series) -> pd.Series:
    """Plain numbers only: "12,50" is ambiguous (12.50 or 1250) and stays NaN."""
    if values.dtype.kind in "biuf":
        return values.astype(float)
    if isinstance(values.dtype, pd.ArrowDtype | pd.Int64Dtype | pd.Float64Dtype):
        return values.astype("Float64").astype(float)
    text = values.astype("string").str.strip()
    return pd.to_numeric(text, errors="coerce").astype(float)


def _bools(values: pd.Series, default: bool) -> pd.Series:
    if values.dtype == bool:
        return values
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["true", "t", "1", "yes"]).where(text.notna(), default).astype(bool)


def _join(*parts: pd.Series) -> pd.Series:
    joined = parts[0].fillna("").astype(str)
    for part in parts[1:]:
        joined = joined + " " + part.fillna("").astype(str)
    joined = joined.str.strip().str.replace(r"\s+", " ", regex=True)
    return joined.mask(joined == "")


def _first_id(values: pd.Series) -> pd.Series:
    """The first id of an association list (decoded by `extract`); null for an empty one."""

    def first(value: object) -> object:
        if isinstance(value, list | tuple | np.ndarray):
            return value[0] if len(value) else None
        return value

    return _ids(values.map(first, na_action="ignore").astype(object))


def _finish(table_rows: pd.DataFrame, spec, version: str) -> pd.DataFrame:
    return spec.typed(table_rows.assign(schema_version=version))


# --------------------------------------------------------------------------- contacts
def _crm_person(ext: _Extract) -> dict[str, pd.Series]:
    return {
        "updated_at": ext.utc("lastmodifieddate"),
        "created_at": ext.utc("createdate"),
        "is_deleted": _bools(ext.column("archived"), False),
        "storefront_customer_id": _ids(ext.column("storefront_customer_id")),
    }


def _support_person(ext: _Extract) -> dict[str, pd.Series]:
    return {
        "updated_at": ext.utc("updated_at"),
        "created_at": ext.utc("created_at"),
        "is_deleted": ~_bools(ext.column("active"), True),
        "storefront_customer_id": _ids(ext.column("external_id")),
    }


def _storefront_person(ext: _Extract) -> dict[str, pd.Series]:
    return {
        "updated_at": ext.utc("updated_at"),
        "created_at": ext.utc("created_at"),
        "is_deleted": pd.Series(False, index=ext.data.index),
        "storefront_customer_id": ext.record_ids,
    }


def _file_person(ext: _Extract) -> dict[str, pd.Series]:
    return {
        "updated_at": ext.utc("updated"),
        "created_at": pd.Series(pd.NaT, index=ext.data.index, dtype="datetime64[ns, UTC]"),
        "is_deleted": pd.Series(False, index=ext.data.index),
        "storefront_customer_id": pd.Series(None, index=ext.data.index, dtype=object),
    }


_PERSON_ADAPTERS: Mapping[str, Callable[[_Extract], dict[str, pd.Series]]] = {
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
    full = _join(first, last)
    if only_full.any():
        full_names = rows.loc[only_full, "full_name"]
        split = _on_distinct(nz.split_full_name, full_names)
        first[only_full] = split["first_name"]
        last[only_full] = split["last_name"]
        full[only_full] = _on_distinct(nz.normalize_name, full_names)
    return {"first_name": first, "last_name": last, "full_name": full}


def _birth_dates(values: pd.Series, now: pd.Timestamp, *, day_first: bool) -> pd.Series:
    """Birth dates; impossible ones (future, before 1900, unreadable) become null."""
    dates = _dates(values, day_first=day_first)
    today = now.tz_convert("UTC").tz_localize(None).normalize()
    return dates.where((dates >= OLDEST_BIRTH_DATE) & (dates <= today))


def person_rows(ext: _Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, _Problems]:
    """One person source mapped to staging.contacts columns, values not yet normalized
    (`normalize_people` does that once for all sources), and its row problems."""
    rows = pd.DataFrame(
        {
            "source": ext.table,
            "source_record_id": ext.record_ids,
            **{name: ext.column(name) for name in _PERSON_FIELDS},
            # Numeric dates: month first where the source is American, else day first.
            "date_of_birth": _birth_dates(
                ext.column("date_of_birth"), now, day_first=ext.spec.default_region != "US"
            ),
            **_PERSON_ADAPTERS[ext.table](ext),
            "_region": ext.spec.default_region,
        }
    )
    rows["is_deleted"] = rows["is_deleted"] | ext.deleted
    problems = _Problems(rows.index)
    _require_time(problems, rows["updated_at"], ext.column(_updated_column(ext)), "updated_at", now)
    return rows, problems


_PERSON_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "city",
    "postcode",
    "state",
    "country",
)


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
        address_line1=_on_distinct(_text, rows["address_line1"]),
        address_line2=_on_distinct(_text, rows["address_line2"]),
        city=_on_distinct(_text, rows["city"]),
        postcode=_on_distinct(nz.normalize_postcode, rows["postcode"], country),
        state=_on_distinct(_text, rows["state"]),
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


def _updated_column(ext: _Extract) -> str:
    return {"crm_contacts": "lastmodifieddate", "file_contacts": "updated"}.get(
        ext.table, "updated_at"
    )


def _require_time(
    problems: _Problems, utc: pd.Series, raw: pd.Series, name: str, now: pd.Timestamp
) -> None:
    problems.add(utc.isna() & raw.isna(), f"{name} missing")
    problems.add(utc.isna() & raw.notna(), f"{name} is not a timestamp", raw)
    problems.add(utc > now, f"{name} in the future", utc)


def stage_contacts(raws: Mapping[str, pd.DataFrame], *, now: pd.Timestamp) -> Staged:
    """staging.contacts from any subset of the person sources (`PERSON_SOURCES`)."""
    return _stage(CONTACTS, raws, PERSON_SOURCES, person_rows, now=now, finish=normalize_people)


# --------------------------------------------------------------------------- orders
def _crm_orders(ext: _Extract) -> tuple[dict[str, pd.Series], pd.Series]:
    stage = ext.column("dealstage").astype("string").str.strip().str.lower()
    return (
        {
            "order_id": ext.record_ids,
            "customer_record_id": _first_id(ext.column("customer_id")),
            "order_ts": ext.utc("order_ts"),
            "status": stage,
            "is_deleted": _bools(ext.column("archived"), False),
        },
        (stage == WON_DEAL_STAGE).fillna(False).astype(bool),
    )


def _storefront_orders(ext: _Extract) -> tuple[dict[str, pd.Series], pd.Series]:
    return (
        {
            "order_id": ext.record_ids,
            "customer_record_id": _ids(ext.column("customer_id")),
            "order_ts": ext.utc("order_ts"),
            "status": ext.column("status").astype("string").str.strip().str.lower(),
            "is_deleted": pd.Series(False, index=ext.data.index),
        },
        pd.Series(True, index=ext.data.index),
    )


def _file_orders(ext: _Extract) -> tuple[dict[str, pd.Series], pd.Series]:
    return (
        {
            "order_id": ext.record_ids,
            "customer_record_id": _ids(ext.column("customer_id")),
            "order_ts": ext.utc("order_ts"),
            "status": pd.Series("completed", index=ext.data.index),
            "is_deleted": pd.Series(False, index=ext.data.index),
        },
        pd.Series(True, index=ext.data.index),
    )


_ORDER_ADAPTERS = {
    "crm_deals": _crm_orders,
    "storefront_orders": _storefront_orders,
    "file_orders": _file_orders,
}


def order_rows(ext: _Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, _Problems]:
    """staging.orders columns for one order source; rows that are not orders are dropped
    (their count is reported as skipped by the caller)."""
    fields, is_order = _ORDER_ADAPTERS[ext.table](ext)
    raw_amount = ext.column("amount")
    amount = _numbers(raw_amount)
    currency = ext.column("currency").astype("string").str.strip().str.upper()
    rows = pd.DataFrame(
        {
            "source": ext.table,
            "customer_source": ORDER_CUSTOMER_SOURCE[ext.table],
            **fields,
            "amount": amount,
            "currency": currency,
        }
    )
    rows["is_deleted"] = rows["is_deleted"] | ext.deleted
    problems = _Problems(rows.index)
    _require_time(problems, rows["order_ts"], ext.column("order_ts"), "order_ts", now)
    problems.add(rows["customer_record_id"].isna(), "no customer id (or associated contact)")
    problems.add(raw_amount.isna(), "amount missing")
    problems.add(amount.isna() & raw_amount.notna(), "amount is not a number", raw_amount)
    problems.add(amount < 0, "amount is negative", raw_amount)
    valid_currency = currency.str.fullmatch(r"[A-Z]{3}").fillna(False).astype(bool)
    problems.add(~valid_currency, "currency is not an ISO 4217 code", currency)
    rows["_keep"] = is_order  # open or lost deals are not orders: skipped
    return rows, problems


def stage_orders(raws: Mapping[str, pd.DataFrame], *, now: pd.Timestamp) -> Staged:
    """staging.orders from any subset of `ORDER_SOURCES`; only won CRM deals are orders."""
    return _stage(ORDERS, raws, ORDER_SOURCES, order_rows, now=now)


# --------------------------------------------------------------------------- web activity
WEB_COUNTS = {
    "sessions": "sessions",
    "pageviews": "page_views",
    "cart_adds": "add_to_carts",
    "purchases": "purchases",
}


def web_rows(ext: _Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, _Problems]:
    """One row per raw visitor-day (summed per customer and day by `stage_web_activity`)."""
    raw_date = ext.column("activity_date")
    day = _dates(raw_date)
    rows = pd.DataFrame(
        {
            "customer_record_id": _ids(ext.column("customer_id")),
            "activity_date": day,
            **{out: _numbers(ext.column(name)) for name, out in WEB_COUNTS.items()},
            "revenue": _numbers(ext.column("revenue")),
        }
    )
    rows[["purchases", "revenue"]] = rows[["purchases", "revenue"]].fillna(0)
    problems = _Problems(rows.index)
    problems.add(day.isna(), "date missing or unreadable", raw_date)
    problems.add(day > now.tz_convert("UTC").tz_localize(None), "date in the future")
    for column in [*WEB_COUNTS.values(), "revenue"]:
        problems.add(rows[column].isna(), f"{column} missing or not a number")
        problems.add(rows[column] < 0, f"{column} is negative")
    rows["_keep"] = ~ext.deleted
    return rows, problems


def stage_web_activity(raw: pd.DataFrame, *, now: pd.Timestamp) -> Staged:
    """staging.web_activity: GA4 visitor-days summed per storefront customer and day.

    Anonymous visitors (no user id) are kept, summed into one null-customer row per day.
    """
    staged = _stage(
        WEB_ACTIVITY, {"web_user_days": raw}, ("web_user_days",), web_rows, now=now, type_=False
    )
    counts = [*WEB_COUNTS.values(), "revenue"]
    per_day = staged.frame.groupby(
        ["customer_record_id", "activity_date"], dropna=False, sort=True
    )[counts].sum()
    frame = per_day.reset_index()
    staged.frame = _finish(frame, WEB_ACTIVITY, schema_version())
    staged.skipped["anonymous_visitor_days"] = int(frame["customer_record_id"].isna().sum())
    return staged


# --------------------------------------------------------------------------- tickets
def ticket_rows(ext: _Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, _Problems]:
    status = ext.column("status").astype("string").str.strip().str.lower()
    rating = ext.column("satisfaction").astype("string").str.strip().str.lower()
    rows = pd.DataFrame(
        {
            "source_record_id": ext.record_ids,
            "requester_record_id": _ids(ext.column("customer_id")),
            "status": status,
            "created_at": ext.utc("created_at"),
            "updated_at": ext.utc("updated_at"),
            "satisfaction": rating.where(rating.isin(RATINGS)),
            "is_deleted": ext.deleted | (status == "deleted").fillna(False),
        }
    )
    problems = _Problems(rows.index)
    _require_time(problems, rows["created_at"], ext.column("created_at"), "created_at", now)
    _require_time(problems, rows["updated_at"], ext.column("updated_at"), "updated_at", now)
    problems.add(rows["requester_record_id"].isna(), "requester_id missing")
    problems.add(~status.isin(TICKET_STATUSES).fillna(False), "unknown status", status)
    return rows, problems


def stage_tickets(raw: pd.DataFrame, *, now: pd.Timestamp) -> Staged:
    return _stage(TICKETS, {"support_tickets": raw}, ("support_tickets",), ticket_rows, now=now)


# --------------------------------------------------------------------------- carts
def cart_rows(ext: _Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, _Problems]:
    status = ext.column("status").astype("string").str.strip().str.lower()
    rows = pd.DataFrame(
        {
            "cart_id": ext.record_ids,
            "customer_record_id": _ids(ext.column("customer_id")),
            "status": status,
            "created_at": ext.utc("created_at"),
            "updated_at": ext.utc("updated_at"),
        }
    )
    problems = _Problems(rows.index)
    _require_time(problems, rows["created_at"], ext.column("created_at"), "created_at", now)
    _require_time(problems, rows["updated_at"], ext.column("updated_at"), "updated_at", now)
    problems.add(~status.isin(CART_STATUSES).fillna(False), "unknown status", status)
    rows["_keep"] = ~ext.deleted  # a deleted cart is no longer a cart: skipped
    return rows, problems


def cart_totals(items: pd.DataFrame) -> tuple[pd.DataFrame, list[Rejection]]:
    """Item count and value per cart id from live cart items; items with a negative or
    missing quantity or price count for nothing and are quarantined."""
    ext = extract("storefront_cart_items", items)
    quantity = _numbers(ext.column("quantity"))
    price = _numbers(ext.column("unit_price"))
    problems = _Problems(ext.data.index)
    problems.add(quantity.isna(), "quantity missing or not a number", ext.column("quantity"))
    problems.add(quantity < 0, "quantity is negative", quantity)
    problems.add(price.isna(), "unit_price missing or not a number", ext.column("unit_price"))
    problems.add(price < 0, "unit_price is negative", price)
    counted = ~ext.deleted & ~problems.bad
    frame = pd.DataFrame(
        {
            "cart_id": _ids(ext.column("cart_id")),
            "items": quantity.where(counted, 0),
            "cart_value": (quantity * price).where(counted, 0),
        }
    )
    totals = frame.groupby("cart_id")[["items", "cart_value"]].sum()
    return totals, problems.rejections(ext, rows=~ext.deleted)


def converted_orders(orders: pd.DataFrame) -> pd.Series:
    """cart id -> id of the latest live storefront order placed from it."""
    ext = extract("storefront_orders", orders)
    frame = pd.DataFrame(
        {
            "cart_id": _ids(ext.column("cart_id")),
            "order_id": ext.record_ids,
            "order_ts": ext.utc("order_ts"),
        }
    )[~ext.deleted]
    frame = frame.dropna(subset=["cart_id"]).sort_values("order_ts", kind="stable")
    return frame.drop_duplicates("cart_id", keep="last").set_index("cart_id")["order_id"]


def stage_carts(
    carts: pd.DataFrame, items: pd.DataFrame, orders: pd.DataFrame, *, now: pd.Timestamp
) -> Staged:
    """staging.carts: live carts with item count, value and the order they became."""
    staged = _stage(
        CARTS, {"storefront_carts": carts}, ("storefront_carts",), cart_rows, now=now, type_=False
    )
    totals, bad_items = cart_totals(items)
    staged.rejections += bad_items
    staged.read += len(items)
    frame = staged.frame.join(totals, on="cart_id")
    frame[["items", "cart_value"]] = frame[["items", "cart_value"]].fillna(0)
    frame["items"] = frame["items"].round().astype("int64")
    frame["converted_order_id"] = frame["cart_id"].map(converted_orders(orders))
    staged.frame = _finish(frame, CARTS, schema_version())
    return staged


# --------------------------------------------------------------------------- the loop
RowBuilder = Callable[[_Extract, pd.Timestamp], tuple[pd.DataFrame, _Problems]]


def _stage(
    spec,
    raws: Mapping[str, pd.DataFrame],
    allowed: tuple[str, ...],
    build: RowBuilder,
    *,
    now: pd.Timestamp,
    type_: bool = True,
    finish: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> Staged:
    """Drift-check every source first (nothing is staged if one drifted), then build rows."""
    unknown = set(raws) - set(allowed)
    if unknown:
        raise ValueError(f"{spec.table} is not built from {sorted(unknown)}")
    now = pd.Timestamp(now).tz_convert("UTC")
    extracts = [extract(table, raw) for table, raw in raws.items()]
    staged = Staged(frame=spec.empty())
    frames = []
    for ext in extracts:
        rows, problems = build(ext, now)
        keep = rows.pop("_keep") if "_keep" in rows else pd.Series(True, index=rows.index)
        if (~keep).any():
            staged.skipped[ext.table] = int((~keep).sum())
        staged.rejections += problems.rejections(ext, rows=keep)
        staged.drift[ext.table] = ext.report
        staged.read += len(ext.raw)
        frames.append(rows[keep & ~problems.bad])
    if frames:
        frame = _concat(frames)
        if finish is not None:
            frame = finish(frame)
        staged.frame = _finish(frame, spec, schema_version()) if type_ else frame
    return staged


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack sources; a column one source lacks (all-null) must not decide the dtype."""
    columns = list(frames[0].columns)
    parts = [f.dropna(axis=1, how="all") for f in frames if len(f)]
    if not parts:
        return frames[0]
    return pd.concat(parts, ignore_index=True).reindex(columns=columns)
