"""The incremental sync engine: pages in, idempotent merges and a durable cursor out.

A `Stream` says how to read one source object (`pages(cursor)`: pages of raw JSON records,
each with the cursor from which reading may resume once that page is stored) and how to type
its records (`fields`). `sync()` does the rest, the same for every REST source:

- Records are committed in chunks. Each chunk's merge into the raw table, its rejections and
  the cursor after it are ONE warehouse unit of work, atomic on every dialect. A crash
  anywhere (even SIGKILL) leaves the cursor pointing at data that is already stored, so the
  rerun re-reads at most one chunk and the merge makes that re-read a no-op: nothing is lost,
  nothing duplicated.
- The merge is keyed on `_source_id` and ordered by (source modification time, `_extracted_at`):
  the latest version wins, an older one never overwrites a newer one, and re-reading records
  that share the cursor's timestamp (streams resume with `>=`) changes nothing.
- Hard deletes arrive as rows whose `deleted(rows)` is true and are stored as `_op='delete'`
  tombstones carrying the last values the source showed. A full refresh (`full_refresh=True`)
  re-reads everything and tombstones the ids the source no longer returns: the reconciliation
  for deletes no feed reports.
- Records that cannot be typed go to `ops.rejected_records`; per run, read = loaded +
  rejected + suppressed.
- Records of an erased person (`ops.suppressions`, tested by the personal-data registry's
  entry for the raw table) are dropped on arrival, valid or not, in incremental runs and full
  reconciliations alike: counted, never stored, never quarantined.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from profile_assets.contracts.personal_data import registry
from profile_assets.privacy.suppression import Suppressions
from profile_assets.quarantine.rejections import (
    DELETE,
    UPSERT,
    LoadTally,
    Rejection,
    quarantine,
    with_load_metadata,
    without_suppressed,
)
from profile_assets.sources.rest.records import Field, dig, parse_records
from profile_assets.warehouse import UnitOfWork, WarehouseConnection

log = logging.getLogger(__name__)

SYNC_STATE_TABLE = "ops.sync_state"
PREVIEW_ROWS = 5


@dataclass
class Page:
    """Raw records of one response, and where to resume once they are stored (None: unchanged)."""

    records: list[Any]
    cursor: str | None = None


def _no_deletes(rows: pd.DataFrame) -> pd.Series:
    return pd.Series(False, index=rows.index)


@dataclass(frozen=True)
class Stream:
    """One source object as the engine sees it."""

    name: str  # key of its cursor in ops.sync_state, e.g. "hubspot.contacts"
    table: str  # raw table, e.g. "raw.crm_contacts"
    source: str  # the `_source` value (the world's table name)
    key: str  # primary-key field
    version: str  # source modification-time field: orders versions
    fields: tuple[Field, ...]
    pages: Callable[[str | None], Iterator[Page]]
    deleted: Callable[[pd.DataFrame], pd.Series] = _no_deletes


@dataclass
class SyncResult:
    tally: LoadTally
    cursor_before: str | None
    cursor_after: str | None
    tombstoned: int = 0
    preview: pd.DataFrame = field(default_factory=pd.DataFrame)


def read_cursor(conn: WarehouseConnection, stream: str) -> str | None:
    if not conn.table_exists(SYNC_STATE_TABLE):
        return None
    df = conn.query_df(
        f"SELECT cursor FROM {SYNC_STATE_TABLE} WHERE stream = {conn.literal(stream)}"
    )
    return None if df.empty or pd.isna(df.iat[0, 0]) else str(df.iat[0, 0])


def save_cursor(unit: UnitOfWork, stream: str, cursor: str, run_id: str) -> None:
    """Store where `stream` resumes (the engine does this with each commit; ops may reset it)."""
    state = pd.DataFrame(
        {
            "stream": [stream],
            "cursor": [cursor],
            "run_id": [run_id],
            "updated_at": [pd.Timestamp.now(tz="UTC")],
        }
    )
    unit.merge(state, SYNC_STATE_TABLE, ["stream"])


def typed_rows(
    stream: Stream,
    records: Sequence[Any],
    *,
    run_id: str,
    suppressions: Suppressions | None = None,
) -> tuple[pd.DataFrame, list[Rejection], int]:
    """Raw rows with bookkeeping columns for `records`, the rejections among them, and how
    many records of suppressed people were dropped (from both)."""
    parsed = parse_records(
        records, stream.fields, key=stream.key, source=stream.source, required=[stream.version]
    )
    rows = parsed.rows
    op = np.where(stream.deleted(rows).to_numpy(dtype=bool), DELETE, UPSERT)
    rows = with_load_metadata(
        rows,
        source=stream.source,
        source_id=rows[stream.key],
        run_id=run_id,
        extracted_at=pd.Timestamp.now(tz="UTC"),
        op=op,
    )
    return drop_suppressed(stream.table, rows, parsed.rejections, suppressions)


def drop_suppressed(
    table: str,
    rows: pd.DataFrame,
    rejections: list[Rejection],
    suppressions: Suppressions | None,
) -> tuple[pd.DataFrame, list[Rejection], int]:
    """`rows` (bound for `table`) and `rejections` without a suppressed person's records."""
    if not suppressions:
        return rows, rejections, 0
    rows, dropped = registry().arrival(table).drop(rows, suppressions)
    rejections, refused = without_suppressed(rejections, suppressions)
    return rows, rejections, dropped + refused


def _commit(
    conn: WarehouseConnection,
    stream: Stream,
    records: list[Any],
    cursor: str | None,
    *,
    run_id: str,
    tally: LoadTally,
    suppressions: Suppressions,
) -> pd.DataFrame:
    rows, rejections, suppressed = typed_rows(
        stream, records, run_id=run_id, suppressions=suppressions
    )
    with conn.unit_of_work() as unit:
        unit.merge(
            rows, stream.table, ["_source_id"], version_columns=[stream.version, "_extracted_at"]
        )
        quarantine(unit, rejections, run_id=run_id)
        if cursor is not None:
            save_cursor(unit, stream.name, cursor, run_id)
    tally.loaded += len(rows)
    tally.rejected += rejections
    tally.suppressed += suppressed
    return rows


def sync(
    conn: WarehouseConnection,
    stream: Stream,
    *,
    run_id: str,
    full_refresh: bool = False,
    commit_records: int = 10_000,
) -> SyncResult:
    """Read `stream` from its stored cursor (or from the start) into its raw table."""
    before = read_cursor(conn, stream.name)
    suppressions = Suppressions.load(conn)
    tally = LoadTally()
    seen: set[str] = set()
    buffer: list[Any] = []
    cursor: str | None = None
    last = pd.DataFrame()
    for page in stream.pages(None if full_refresh else before):
        tally.read += len(page.records)
        buffer += page.records
        cursor = page.cursor if page.cursor is not None else cursor
        if len(buffer) >= commit_records:
            last = _commit(
                conn, stream, buffer, cursor, run_id=run_id, tally=tally, suppressions=suppressions
            )
            seen.update(_present_ids(stream, buffer) if full_refresh else ())
            buffer = []
    changed = cursor is not None and cursor != before
    if buffer or changed:
        rows = _commit(
            conn, stream, buffer, cursor, run_id=run_id, tally=tally, suppressions=suppressions
        )
        seen.update(_present_ids(stream, buffer) if full_refresh else ())
        last = rows if len(rows) else last
    tombstoned = _tombstone_missing(conn, stream, seen, run_id) if full_refresh else 0
    columns = ["_source_id", stream.version, "_op"]
    preview = last[columns].tail(PREVIEW_ROWS) if len(last) else pd.DataFrame(columns=columns)
    return SyncResult(tally, before, cursor if changed else before, tombstoned, preview)


def _present_ids(stream: Stream, records: list[Any]) -> set[str]:
    """Ids the source returned, quarantined records included: still there, so not deleted."""
    path = next(f.path for f in stream.fields if f.name == stream.key)
    ids = (dig(r, path) for r in records if isinstance(r, dict))
    return {str(i) for i in ids if i is not None}


def _tombstone_missing(
    conn: WarehouseConnection, stream: Stream, seen: set[str], run_id: str
) -> int:
    """Mark rows whose ids the source no longer returns as `_op='delete'`."""
    if not conn.table_exists(stream.table):
        return 0
    if not seen:
        log.warning("%s returned no records; not tombstoning the whole table", stream.name)
        return 0
    live = conn.query_df(
        f"SELECT _source_id FROM {stream.table} WHERE _op <> {conn.literal(DELETE)}"
    )["_source_id"]
    gone = sorted(set(live.astype(str)) - seen)
    if not gone:
        return 0
    with conn.unit_of_work() as unit:
        missing = unit.stage(pd.DataFrame({"_source_id": gone}))
        unit.execute(
            f"UPDATE {stream.table} SET _op = {conn.literal(DELETE)}, "
            f"_run_id = {conn.literal(run_id)}, "
            f"_extracted_at = {conn.literal(pd.Timestamp.now(tz='UTC'))} "
            f"WHERE _source_id IN (SELECT _source_id FROM {missing})"
        )
    return len(gone)


def replace_window(
    conn: WarehouseConnection,
    table: str,
    rows: pd.DataFrame,
    *,
    window: str,
    rejections: list,
    run_id: str,
) -> None:
    """Replace the rows matching SQL predicate `window` by `rows`, in one unit of work
    (callers drop a suppressed person's rows first: `drop_suppressed`).

    For snapshot sources (a GA4 day): a rerun or backfill of the window converges to the
    source's current answer and never duplicates.
    """
    with conn.unit_of_work() as unit:
        unit.delete_where(table, window)
        if len(rows):
            unit.append(rows, table)
        quarantine(unit, rejections, run_id=run_id)
