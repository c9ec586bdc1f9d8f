"""Golden profiles: one row per person from their records, the identity map and their activity.

    unified fields + provenance  <- survivorship over the profile's records (touched profiles)
    membership (records, sources, first seen, last source update)
    derived fields                <- features/derived.py folded by profile_id, as of a time
    enrichment                    <- the third-party answer for the profile's surviving email,
                                     provenance `enrichment` (fields no first-party source has)

Incremental: a profile is rebuilt only when its membership fingerprint (`members_hash`, an
order-free sum of hashes of its records' keys and of every column survivorship reads) changed,
or the survivorship rules did.
The others keep their unified fields from the previous table. Derived fields depend on activity
and time, not only on contacts, so they are recomputed for every profile (vectorized, cheap).
A full rebuild recomputes everything and gives the same table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profile_assets.contracts.schema import RECORD_KEY
from profile_assets.enrichment.cache import FIELD_COLUMNS as ENRICHMENT_FIELDS
from profile_assets.enrichment.client import ENRICHED
from profile_assets.features.derived import DERIVED_COLUMNS, Activity, derive_fields
from profile_assets.profiles.survivorship import SurvivorshipRules, survive
from profile_assets.staging.tables import CARTS, ORDERS, TICKETS, WEB_ACTIVITY

MEMBERSHIP_COLUMNS = [
    "record_count",
    "sources",
    "first_seen_at",
    "last_source_update_at",
    "members_hash",
    "rules_version",
]
_TIMESTAMP = "datetime64[us, UTC]"
ENRICHMENT_COLUMNS = [*ENRICHMENT_FIELDS, "provenance_enrichment_source", "enriched_at"]
ENRICHMENT_SOURCE = "enrichment"


def unified_columns(rules: SurvivorshipRules) -> list[str]:
    """Everything of a golden row that comes from contacts (not activity or time)."""
    return ["profile_id", *rules.value_columns, *rules.provenance_columns, *MEMBERSHIP_COLUMNS]


def golden_columns(rules: SurvivorshipRules) -> list[str]:
    return [*unified_columns(rules), *DERIVED_COLUMNS, *ENRICHMENT_COLUMNS, "as_of"]


def with_enrichment(golden: pd.DataFrame, enrichment: pd.DataFrame | None) -> pd.DataFrame:
    """Join each profile's enrichment answer by its surviving email key.

    Enrichment only adds fields no first-party source carries (employment, demographics,
    the vendor's geo), so first-party values always win; `provenance_enrichment_source` says
    where the added fields came from.
    """
    answers = pd.DataFrame(columns=["email_key", *ENRICHMENT_FIELDS, "enriched_at"])
    if enrichment is not None and len(enrichment):
        found = enrichment[enrichment["status"] == ENRICHED]
        answers = found[["email_key", *ENRICHMENT_FIELDS, "asked_at"]].rename(
            columns={"asked_at": "enriched_at"}
        )
    out = golden.drop(columns=[c for c in ENRICHMENT_COLUMNS if c in golden.columns])
    out = out.merge(answers, on="email_key", how="left")
    out["provenance_enrichment_source"] = np.where(
        out["enriched_at"].notna(), ENRICHMENT_SOURCE, None
    )
    return out


def members_hash(
    contacts: pd.DataFrame, profile_map: pd.DataFrame, rules: SurvivorshipRules
) -> pd.Series:
    """profile_id -> int64 fingerprint of its members and everything survivorship reads from
    them (values, validity flags, times): order-free, so equal iff nothing relevant changed."""
    read = [*RECORD_KEY, *rules.value_columns, *rules.prefer_columns, "updated_at", "created_at"]
    rows = pd.util.hash_pandas_object(contacts[read].astype(str), index=False)
    keyed = pd.Series(rows.to_numpy(), index=pd.MultiIndex.from_frame(contacts[RECORD_KEY]))
    member_rows = keyed.reindex(pd.MultiIndex.from_frame(profile_map[RECORD_KEY]))
    summed = member_rows.groupby(profile_map["profile_id"].to_numpy()).sum()  # mod 2**64
    return summed.astype("uint64").astype("int64").rename("members_hash")


def profiles_to_rebuild(
    hashes: pd.Series, previous: pd.DataFrame | None, rules: SurvivorshipRules
) -> pd.Index:
    """Profiles whose unified fields must be recomputed: new, or members changed, or all
    when there is no previous table or the rules changed."""
    if previous is None or previous.empty:
        return hashes.index
    if (previous["rules_version"] != rules.version).any():
        return hashes.index
    before = previous.set_index("profile_id")["members_hash"]
    same = before.reindex(hashes.index).to_numpy() == hashes.to_numpy()
    return hashes.index[~same]


def membership(records: pd.DataFrame) -> pd.DataFrame:
    """Per profile: how many records, from which sources, first seen, last changed."""
    grouped = records.groupby("profile_id")
    seen = records["created_at"].fillna(records["updated_at"])
    return pd.DataFrame(
        {
            "record_count": grouped.size().astype("int64"),
            "sources": _source_sets(records),
            "first_seen_at": seen.groupby(records["profile_id"]).min(),
            "last_source_update_at": grouped["updated_at"].max(),
        }
    )


def _source_sets(records: pd.DataFrame) -> pd.Series:
    """profile_id -> its sources, sorted and comma-joined. Each source is a bit, each
    profile's set an OR of bits: a handful of distinct sets, named once each (no Python
    call per profile)."""
    names = np.sort(records["source"].astype(str).unique())
    bits = pd.Series(np.left_shift(1, np.arange(len(names), dtype=np.int64)), index=names)
    distinct = records[["profile_id", "source"]].drop_duplicates()
    sets = distinct["source"].astype(str).map(bits).groupby(distinct["profile_id"]).sum()
    label = {m: ",".join(n for i, n in enumerate(names) if m >> i & 1) for m in sets.unique()}
    return sets.map(label)


def unified_profiles(
    records: pd.DataFrame, hashes: pd.Series, rules: SurvivorshipRules
) -> pd.DataFrame:
    """Survivorship + membership for the profiles present in `records` (contacts with a
    `profile_id`)."""
    if records.empty:
        return pd.DataFrame(columns=unified_columns(rules))
    out = survive(records, rules).set_index("profile_id")
    out = out.join(membership(records))
    out["members_hash"] = hashes.reindex(out.index)
    out["rules_version"] = rules.version
    return out.reset_index()[unified_columns(rules)]


def build_golden(
    contacts: pd.DataFrame,
    identity_map: pd.DataFrame,
    rules: SurvivorshipRules,
    activity: Activity,
    as_of: pd.Timestamp,
    previous: pd.DataFrame | None = None,
    enrichment: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.Index]:
    """(golden profiles, profiles whose unified fields were recomputed).

    `contacts`: live staging contacts; `identity_map`: source, source_record_id, profile_id;
    `previous`: the last golden table (None or empty: build everything).
    """
    membership_map = identity_map[[*RECORD_KEY, "profile_id"]]
    hashes = members_hash(contacts, membership_map, rules)
    touched = profiles_to_rebuild(hashes, previous, rules)
    touched_map = membership_map.loc[membership_map["profile_id"].isin(touched)]
    records = contacts.merge(touched_map, on=RECORD_KEY)
    fresh = unified_profiles(records, hashes, rules)
    parts = [fresh]
    if previous is not None and len(previous):
        kept = previous["profile_id"].isin(hashes.index) & ~previous["profile_id"].isin(touched)
        parts.insert(0, previous.loc[kept, unified_columns(rules)])
    unified = pd.concat([p for p in parts if len(p)] or [fresh], ignore_index=True)
    derived = derive_fields(activity, as_of, entity_map=membership_map)
    golden = with_enrichment(unified.merge(derived, on="profile_id", how="left"), enrichment)
    golden["as_of"] = pd.Timestamp(as_of).tz_convert("UTC")
    golden = golden.sort_values("profile_id", kind="stable").reset_index(drop=True)
    return _typed(golden[golden_columns(rules)]), touched


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """One dtype per column whatever the frame came from (pandas, or read back from the
    warehouse), so kept and rebuilt rows concatenate and compare equal."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column in ("first_seen_at", "last_source_update_at", "as_of", "first_purchase_at",
                      "last_purchase_at", "enriched_at"):  # fmt: skip
            out[column] = pd.to_datetime(values, utc=True).astype(_TIMESTAMP)
        elif column == "date_of_birth":
            out[column] = pd.to_datetime(values).astype("datetime64[us]")
        elif column in ("record_count", "members_hash", "rules_version"):
            out[column] = values.astype("int64")
        elif column == "household_size":
            out[column] = pd.to_numeric(values).astype("Int64")
        elif values.dtype == object or pd.api.types.is_string_dtype(values):
            out[column] = values.astype(object).where(values.notna(), None)
    return out


def empty_activity() -> Activity:
    """No orders, web days, tickets or carts (staging tables not built yet)."""
    return Activity(
        orders=ORDERS.empty(),
        web_activity=WEB_ACTIVITY.empty(),
        tickets=TICKETS.empty(),
        carts=CARTS.empty(),
    )
