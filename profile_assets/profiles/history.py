"""Profile history as a type-2 slowly changing dimension (SCD2).

Every change of a golden profile's tracked fields closes the profile's current row
(`valid_to` = the run's time, `is_current` = false) and adds a new version; a profile that
disappears (its records deleted, merged away or erased) is closed without a successor.
Unchanged profiles are not touched, so the table grows with changes, not with runs.

Tracked: the survived person fields, their provenance, and the membership (record count,
sources). Derived activity fields (spend, engagement) are recomputed as of each run and
would version every profile daily; they live in the golden table and the ML snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from profile_assets.profiles.survivorship import SurvivorshipRules

HISTORY_TABLE = "profiles.profile_history"
SCD_COLUMNS = [
    "version",
    "valid_from",
    "valid_to",
    "is_current",
    "content_hash",
    "change_type",
    "changed_fields",
    "run_id",
]
CREATED, UPDATED, DELETED = "created", "updated", "deleted"


def tracked_columns(rules: SurvivorshipRules) -> list[str]:
    return [*rules.value_columns, *rules.provenance_columns, "record_count", "sources"]


def history_columns(rules: SurvivorshipRules) -> list[str]:
    return ["profile_id", *tracked_columns(rules), *SCD_COLUMNS]


def content_hash(snapshot: pd.DataFrame, columns: list[str]) -> pd.Series:
    """int64 fingerprint of the tracked fields (dtype-insensitive: compared as text)."""
    text = snapshot[columns].astype(object).where(snapshot[columns].notna(), None).astype(str)
    return pd.util.hash_pandas_object(text, index=False).astype("int64")


@dataclass(frozen=True)
class Scd2Change:
    """What one run does to the history: rows to close, rows to add, and the change list
    (profile_id, change_type, changed_fields, version) the audit log records."""

    closed: pd.Index
    new_rows: pd.DataFrame
    changes: pd.DataFrame


def scd2_merge(
    current: pd.DataFrame | None,
    snapshot: pd.DataFrame,
    rules: SurvivorshipRules,
    *,
    at: pd.Timestamp,
    run_id: str,
) -> Scd2Change:
    """Compare the golden `snapshot` with the `current` history rows (is_current only)."""
    columns = tracked_columns(rules)
    snap = snapshot[["profile_id", *columns]].set_index("profile_id")
    snap["content_hash"] = content_hash(snap, columns).to_numpy()
    if current is None or current.empty:
        current = pd.DataFrame(columns=["profile_id", *columns, "content_hash", "version"])
    cur = current.set_index("profile_id")
    both = snap.index.intersection(cur.index)
    differs = snap.loc[both, "content_hash"].to_numpy() != cur.loc[both, "content_hash"].to_numpy()
    updated = both[differs]
    created = snap.index.difference(cur.index)
    deleted = cur.index.difference(snap.index)

    fields = _changed_fields(cur.loc[updated, columns], snap.loc[updated, columns])
    versions = pd.concat(
        [pd.Series(1, index=created), cur.loc[updated, "version"].astype("int64") + 1]
    )
    new_rows = snap.loc[versions.index].assign(
        version=versions.astype("int64").to_numpy(),
        valid_from=at,
        valid_to=pd.NaT,
        is_current=True,
        change_type=np.where(versions.index.isin(created), CREATED, UPDATED),
        changed_fields=pd.concat(
            [pd.Series(",".join(columns), index=created, dtype=object), fields]
        )
        .reindex(versions.index)
        .to_numpy(),
        run_id=run_id,
    )
    new_rows["valid_to"] = pd.Series(pd.NaT, index=new_rows.index, dtype="datetime64[us, UTC]")
    new_rows = new_rows.reset_index()[history_columns(rules)]
    gone = pd.DataFrame(
        {
            "profile_id": deleted,
            "change_type": DELETED,
            "changed_fields": "",
            "version": cur.loc[deleted, "version"].astype("int64").to_numpy(),
        }
    )
    changes = pd.concat(
        [new_rows[["profile_id", "change_type", "changed_fields", "version"]], gone],
        ignore_index=True,
    )
    return Scd2Change(closed=updated.append(deleted), new_rows=new_rows, changes=changes)


def _changed_fields(before: pd.DataFrame, after: pd.DataFrame) -> pd.Series:
    """Comma-separated names of the columns that differ, per profile (compared as text)."""
    out = pd.Series("", index=after.index, dtype=object)
    for column in after.columns:
        old = before[column].astype(object).where(before[column].notna(), None).astype(str)
        new = after[column].astype(object).where(after[column].notna(), None).astype(str)
        differs = old.to_numpy() != new.to_numpy()
        out[differs] = out[differs] + column + ","
    return out.str.rstrip(",")


def change_sources(
    changes: pd.DataFrame, snapshot: pd.DataFrame, rules: SurvivorshipRules
) -> pd.Series:
    """Which sources supplied what changed, per change row: every source of a new profile,
    the provenance sources of the changed attributes of an updated one, none for a deleted
    one."""
    snap = snapshot.set_index("profile_id")
    out = pd.Series(None, index=changes.index, dtype=object)
    created = changes["change_type"] == CREATED
    out[created] = snap["sources"].reindex(changes.loc[created, "profile_id"]).to_numpy()
    for i in np.nonzero((changes["change_type"] == UPDATED).to_numpy())[0]:
        row = changes.iloc[i]
        fields = set(row["changed_fields"].split(","))
        supplied = {
            snap.at[row["profile_id"], attribute.provenance_columns[0]]
            for attribute in rules.attributes
            if fields & set(attribute.columns)
        }
        out.iloc[i] = ",".join(sorted(s for s in supplied if isinstance(s, str)))
    return out
