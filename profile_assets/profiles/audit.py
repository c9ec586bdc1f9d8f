"""The audit log (`ops.audit_log`): every profile write, what changed, from which source,
in which run, and who or what started that run.

Who: Dagster tags its runs -- `dagster/schedule_name` for a schedule, `dagster/sensor_name`
for a sensor (declarative automation runs through a sensor too); anything else was launched
by a person (the UI, the CLI, a test), named by `dagster/user` or `user` when present.
Audit rows hold profile ids and field names, never personal values, so erasure can keep them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import pandas as pd

AUDIT_TABLE = "ops.audit_log"
AUDIT_COLUMNS = [
    "audit_id",
    "audited_at",  # not "at": Snowflake-on-DuckDB (fakesnow) parses AT as a keyword
    "run_id",
    "trigger",
    "triggered_by",
    "asset",
    "action",
    "profile_id",
    "changed_fields",
    "sources",
    "details",
]
SCHEDULE_TAG, SENSOR_TAG = "dagster/schedule_name", "dagster/sensor_name"
USER_TAGS = ("dagster/user", "user")


def run_trigger(tags: Mapping[str, str]) -> tuple[str, str | None]:
    """('schedule' | 'sensor' | 'user', the schedule, sensor or user name if known)."""
    if tags.get(SCHEDULE_TAG):
        return "schedule", tags[SCHEDULE_TAG]
    if tags.get(SENSOR_TAG):
        return "sensor", tags[SENSOR_TAG]
    return "user", next((tags[t] for t in USER_TAGS if tags.get(t)), None)


def audit_rows(
    changes: pd.DataFrame,
    *,
    run_id: str,
    tags: Mapping[str, str],
    asset: str,
    at: pd.Timestamp,
) -> pd.DataFrame:
    """Audit rows for `changes` (profile_id, action, and optionally changed_fields, sources,
    details)."""
    trigger, triggered_by = run_trigger(tags)
    out = pd.DataFrame(
        {
            "audited_at": at,
            "run_id": run_id,
            "trigger": trigger,
            "triggered_by": triggered_by,
            "asset": asset,
            "action": changes["action"].to_numpy(),
            "profile_id": changes["profile_id"].to_numpy(),
        }
    )
    for column in ("changed_fields", "sources", "details"):
        out[column] = changes[column].to_numpy() if column in changes else None
    ids = out["run_id"] + "|" + out["asset"] + "|" + out["action"] + "|" + out["profile_id"]
    out["audit_id"] = ids.map(lambda text: hashlib.sha256(text.encode()).hexdigest()[:32])
    return out[AUDIT_COLUMNS].astype({c: "string" for c in AUDIT_COLUMNS if c != "audited_at"})
