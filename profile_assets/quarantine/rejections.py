"""The bookkeeping every raw row carries, and the quarantine for rows that cannot be loaded.

Raw tables hold the source's own columns plus `_source`, `_source_id`, `_extracted_at` (UTC),
`_run_id`, `_op` ('upsert' | 'delete') and, for CDC, `_lsn`. A record that cannot be loaded
is never dropped: it goes to `ops.rejected_records` with its payload and a reason, so that
for every run and source, records read = records loaded + records rejected + records
suppressed. The one exception is an erased person's record: it is dropped on arrival and
only counted (`suppressed_on_arrival`), never stored and never quarantined with its payload.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from profile_assets.privacy.suppression import Suppressions, suppressed_payload

if TYPE_CHECKING:  # the warehouse module pulls in Dagster; only the annotation needs it
    from profile_assets.warehouse import UnitOfWork

REJECTED_TABLE = "ops.rejected_records"
UPSERT, DELETE = "upsert", "delete"
# The bookkeeping columns `with_load_metadata` adds, as (contract type, description) for the
# raw assets' column schemas, so every source describes them alike; sources append their own
# (CDC's `_lsn`, file drops' `_file`, ...).
LOAD_COLUMNS: dict[str, tuple[str, str]] = {
    "_source": ("string", "Which source wrote the row (e.g. 'storefront', 'file_drop')."),
    "_source_id": ("string", "The record's id in its source; the merge key."),
    "_extracted_at": ("datetime", "When this version reached the warehouse (UTC)."),
    "_run_id": ("string", "Dagster run that wrote this version."),
    "_op": ("string", "'upsert', or 'delete' for a tombstone keeping the last values."),
}


def with_load_metadata(
    df: pd.DataFrame,
    *,
    source: str,
    source_id: pd.Series,
    run_id: str,
    extracted_at: pd.Timestamp,
    op: str | pd.Series = UPSERT,
) -> pd.DataFrame:
    """Return `df` with the raw bookkeeping columns added (the frame itself is not changed)."""
    out = df.copy()
    out["_source"] = source
    out["_source_id"] = source_id.astype(str).to_numpy()
    out["_extracted_at"] = extracted_at.tz_convert("UTC") if extracted_at.tzinfo else extracted_at
    out["_run_id"] = run_id
    out["_op"] = op
    return out


@dataclass
class Rejection:
    """One record that could not be loaded, and why."""

    source: str
    reason: str
    payload: object
    file: str | None = None
    line: int | None = None


@dataclass
class LoadTally:
    """Counts that must balance: read = loaded + rejected + suppressed (an erased person's
    records, dropped on arrival)."""

    read: int = 0
    loaded: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    suppressed: int = 0

    @property
    def balanced(self) -> bool:
        return self.read == self.loaded + len(self.rejected) + self.suppressed

    def as_metadata(self) -> dict[str, int | bool]:
        return {
            "records_read": self.read,
            "records_loaded": self.loaded,
            "records_rejected": len(self.rejected),
            "suppressed_on_arrival": self.suppressed,
            "balanced": self.balanced,
        }


def without_suppressed(
    rejections: list[Rejection], suppressions: Suppressions, *, source: str | None = None
) -> tuple[list[Rejection], int]:
    """Rejections that do not belong to a suppressed person, and how many did. `source`:
    whose record ids the payloads' id fields are, when not the rejections' own `source`."""
    if not suppressions or not rejections:
        return rejections, 0
    kept = [
        r for r in rejections if not suppressed_payload(r.payload, source or r.source, suppressions)
    ]
    return kept, len(rejections) - len(kept)


def rejections_frame(rejections: Iterable[Rejection], *, run_id: str) -> pd.DataFrame:
    """Rejections as rows of `ops.rejected_records`.

    `rejection_key` identifies a rejection within its run: a digest of where it came from and
    what it held, plus its occurrence number, so two identical bad lines stay two rows while
    a retried step writing the same batch again adds nothing.
    """
    columns = ["run_id", "rejection_key", "source", "reason", "payload", "file", "line"]
    rows = []
    for r in rejections:
        payload = json.dumps(r.payload, default=str, sort_keys=True)
        digest = hashlib.sha256(f"{r.source}|{r.file}|{r.line}|{payload}".encode()).hexdigest()
        rows.append([run_id, digest, r.source, r.reason, payload, r.file, r.line])
    frame = pd.DataFrame(rows, columns=columns)
    occurrence = frame.groupby("rejection_key").cumcount().astype(str)
    frame["rejection_key"] = frame["rejection_key"].str.slice(0, 32) + "-" + occurrence
    frame["rejected_at"] = pd.Timestamp.now(tz="UTC")
    text = ["run_id", "rejection_key", "source", "reason", "payload", "file"]
    return frame.astype({**dict.fromkeys(text, "string"), "line": "Int64"})


def quarantine(unit: UnitOfWork, rejections: list[Rejection], *, run_id: str) -> int:
    """Record rejected rows with the step's other writes; idempotent per run, so a retried
    step counts nothing twice.

    The table exists after any load, even a clean one, so "no rejections" reads as zero rows.
    Loaders drop a suppressed person's rejections first (and count them); this checks again,
    so no payload of an erased person is ever stored, whoever calls.
    """
    if rejections:
        rejections, _ = without_suppressed(rejections, Suppressions.load(unit.conn))
    frame = rejections_frame(rejections, run_id=run_id)
    if frame.empty:
        if not unit.conn.table_exists(REJECTED_TABLE):
            unit.append(frame.astype({"rejected_at": "datetime64[us, UTC]"}), REJECTED_TABLE)
        return 0
    return unit.merge(frame, REJECTED_TABLE, ["run_id", "rejection_key"])
