"""Loading each dropped file exactly once into `raw.file_contacts` / `raw.file_orders`.

Rows merged on `_source_id`, rejections quarantined and the file's content hash recorded in
`ops.loaded_files` in ONE warehouse unit of work (`load_file`), so a crash at any point
neither loses nor duplicates: before the commit nothing happened, after it the hash says
"done" and a rerun only archives the file. A file that cannot be parsed at all is failed
aside, and its hash is remembered too, so the same bytes are never retried forever.
An erased person's rows and rejections are dropped before the commit (counted as
suppressed) and the archived copy is rewritten without them (`scrub.py`).

Everything here is Dagster-free; `assets.py` wires it into assets and a sensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from profile_assets.privacy.suppression import Suppressions
from profile_assets.quarantine.rejections import (
    LoadTally,
    Rejection,
    quarantine,
    with_load_metadata,
)
from profile_assets.sources.files.discovery import (
    ARCHIVE,
    DroppedFile,
    fail_aside,
    pending_files,
)
from profile_assets.sources.files.kinds import SOURCE, DropKind
from profile_assets.sources.files.parsing import read_drop
from profile_assets.sources.files.scrub import drop_suppressed, scrub_file
from profile_assets.sources.files.shaping import empty_table, shape_rows
from profile_assets.sources.files.sniffing import UnparseableFile
from profile_assets.warehouse import UnitOfWork, WarehouseConnection

LOADED_FILES_TABLE = "ops.loaded_files"
VERSION_COLUMNS = ("_file_modified_at", "_extracted_at", "_line")


@dataclass
class FileOutcome:
    """What happened to one dropped file; `tally` balances read = loaded + rejected."""

    file: str
    sha256: str
    status: str  # loaded | duplicate | failed
    tally: LoadTally
    reason: str | None = None
    details: dict[str, str] = field(default_factory=dict)


def load_pending(
    conn: WarehouseConnection,
    drop_root: Path,
    kind: DropKind,
    *,
    run_id: str,
    now: float | None = None,
) -> list[FileOutcome]:
    """Load every settled file waiting in drop/<kind>/, one transaction per file."""
    if not conn.table_exists(kind.table):
        with conn.unit_of_work() as unit:
            unit.append(empty_table(kind), kind.table)
    outcomes = []
    for path in pending_files(drop_root, kind, now=now):
        try:
            dropped = DroppedFile.read(path, kind)
        except FileNotFoundError:
            continue  # a concurrent run took it
        outcomes.append(load_file(conn, dropped, drop_root=drop_root, run_id=run_id))
    return outcomes


def load_file(
    conn: WarehouseConnection, dropped: DroppedFile, *, drop_root: Path, run_id: str
) -> FileOutcome:
    """Load one file exactly once (by content hash), then archive it; see the module doc."""
    kind, name = dropped.kind, dropped.name
    suppressions = Suppressions.load(conn)
    known = _known_files(conn, kind).get(dropped.sha256)
    if known is not None and known["status"] == "loaded":
        # Loaded before someone's erasure, perhaps: the archive keeps no erased person.
        scrub_file(dropped.move_to(ARCHIVE, drop_root), kind, suppressions)
        return FileOutcome(name, dropped.sha256, "duplicate", LoadTally())
    if known is not None:  # failed before; the move aside may not have happened
        fail_aside(dropped, known["reason"], drop_root)
        return FileOutcome(name, dropped.sha256, "failed", LoadTally(), reason=known["reason"])
    try:
        parsed = read_drop(name, dropped.data)
        frame, bad_rows = shape_rows(parsed, kind, name)
    except UnparseableFile as error:
        return _load_failure(conn, dropped, str(error), drop_root=drop_root, run_id=run_id)
    rows = with_load_metadata(
        frame,
        source=SOURCE,
        source_id=frame[kind.raw_id],
        run_id=run_id,
        extracted_at=pd.Timestamp.now(tz="UTC"),
    ).assign(_file=name, _file_sha256=dropped.sha256, _file_modified_at=dropped.modified_at)
    rows, rejections, suppressed = drop_suppressed(
        rows, parsed.rejections + bad_rows, kind, suppressions
    )
    tally = LoadTally(
        read=parsed.read, loaded=len(rows), rejected=rejections, suppressed=suppressed
    )
    with conn.unit_of_work() as unit:
        unit.merge(rows, kind.table, ["_source_id"], version_columns=VERSION_COLUMNS)
        quarantine(unit, rejections, run_id=run_id)
        _record_file(unit, dropped, "loaded", tally, run_id=run_id)
    archived = dropped.move_to(ARCHIVE, drop_root)
    if suppressed:
        scrub_file(archived, kind, suppressions)
    return FileOutcome(name, dropped.sha256, "loaded", tally, details=parsed.details)


def _load_failure(
    conn: WarehouseConnection, dropped: DroppedFile, reason: str, *, drop_root: Path, run_id: str
) -> FileOutcome:
    """A whole file that cannot be parsed counts as one record read and rejected."""
    head = dropped.data[:500].decode("latin_1")
    rejection = Rejection(SOURCE, f"unparseable file: {reason}", {"head": head}, dropped.name)
    tally = LoadTally(read=1, loaded=0, rejected=[rejection])
    with conn.unit_of_work() as unit:
        quarantine(unit, [rejection], run_id=run_id)
        _record_file(unit, dropped, "failed", tally, run_id=run_id, reason=reason)
    # Kept aside for a person to look at, but not with an erased person's lines in it.
    scrub_file(fail_aside(dropped, reason, drop_root), dropped.kind, Suppressions.load(conn))
    return FileOutcome(dropped.name, dropped.sha256, "failed", tally, reason=reason)


def _known_files(conn: WarehouseConnection, kind: DropKind) -> dict[str, dict]:
    if not conn.table_exists(LOADED_FILES_TABLE):
        return {}
    known = conn.query_df(
        f"SELECT sha256, status, reason FROM {LOADED_FILES_TABLE} WHERE kind = '{kind.name}'"
    )
    return {row["sha256"]: row for row in known.to_dict("records")}


def _record_file(
    unit: UnitOfWork,
    dropped: DroppedFile,
    status: str,
    tally: LoadTally,
    *,
    run_id: str,
    reason: str | None = None,
) -> None:
    record = pd.DataFrame(
        [
            {
                "kind": dropped.kind.name,
                "sha256": dropped.sha256,
                "file": dropped.name,
                "status": status,
                "reason": reason,
                "records_read": tally.read,
                "records_loaded": tally.loaded,
                "records_rejected": len(tally.rejected),
                "file_modified_at": dropped.modified_at,
                "loaded_at": pd.Timestamp.now(tz="UTC"),
                "run_id": run_id,
            }
        ]
    ).astype({"reason": "string"})
    unit.merge(record, LOADED_FILES_TABLE, ["kind", "sha256"])
