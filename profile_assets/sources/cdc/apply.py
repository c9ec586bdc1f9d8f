"""Applying CDC batches to the warehouse's raw tables, with the position they reach.

A batch is merged in ONE unit of work that also records, in `ops.cdc_state`, the commit LSN
it went up to; the slot is advanced only after that commit. A crash anywhere replays
changes at worst (at-least-once), and replays change nothing: transactions at or below the
stored LSN are skipped, and every row merge is guarded by `_lsn`.

Rows of an erased person (by the personal-data registry's links: a customer by its address
or id, their orders and carts by customer id, the items of those by order or cart id) are
dropped before the merge, in snapshots and streams alike, and only counted. A dropped order
or cart has its record key suppressed in the same unit of work, so its items are dropped
too, whether they arrive in this batch or a later one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from profile_assets.contracts.personal_data import registry
from profile_assets.privacy.suppression import (
    SUPPRESSIONS_TABLE,
    Suppressions,
    suppression_rows,
)
from profile_assets.quarantine.rejections import DELETE, LOAD_COLUMNS, UPSERT
from profile_assets.sources.cdc.batches import CdcBatch
from profile_assets.sources.cdc.slot import SLOT
from profile_assets.sources.cdc.tables import SOURCE, ReplicatedTable, by_name, replicated_tables

if TYPE_CHECKING:  # importing the warehouse module pulls in Dagster: seconds per process
    from profile_assets.warehouse import WarehouseConnection

STATE_TABLE = "ops.cdc_state"
META_COLUMNS = (*LOAD_COLUMNS, "_lsn")


def ensure_cdc_tables(conn: WarehouseConnection) -> None:
    """Raw tables with the source's typed columns plus bookkeeping, and the state table."""
    ts = conn.timestamp_type
    for table in replicated_tables():
        columns = [f"{name} {sql_type}" for name, sql_type in table.columns]
        columns += [
            "_source VARCHAR",
            "_source_id VARCHAR",
            f"_extracted_at {ts}",
            "_run_id VARCHAR",
            "_op VARCHAR",
            "_lsn BIGINT",
        ]
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table.raw_table} ({', '.join(columns)})")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} "
        f"(slot VARCHAR, lsn BIGINT, run_id VARCHAR, updated_at {ts})"
    )


def stored_lsn(conn: WarehouseConnection, slot: str = SLOT) -> int | None:
    """The commit LSN the warehouse holds every change up to (None: never snapshotted)."""
    if not conn.table_exists(STATE_TABLE):
        return None
    value = conn.scalar(f"SELECT MAX(lsn) FROM {STATE_TABLE} WHERE slot = {conn.literal(slot)}")
    return None if value is None or pd.isna(value) else int(value)


@dataclass
class Applied:
    """Rows merged, and rows of suppressed people dropped, per raw table."""

    merged: dict[str, int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)


def without_suppressed(
    frames: dict[str, pd.DataFrame], suppressions: Suppressions
) -> tuple[dict[str, pd.DataFrame], dict[str, int], list[str]]:
    """`frames` without a suppressed person's rows, the rows dropped per raw table, and the
    record keys of dropped parent rows (orders, carts) whose children must follow them."""
    if not suppressions:
        return frames, {}, []
    reg = registry()
    parents = reg.parents()
    kept, dropped, parent_keys = {}, {}, []
    # Parents first, so their dropped ids reach the children of the same batch.
    for name in sorted(frames, key=lambda n: by_name(n).raw_table not in parents):
        table = by_name(name)
        frame = frames[name]
        ids = frame[table.key].astype(str)
        mask = reg.arrival(table.raw_table).mask(frame.assign(_source_id=ids), suppressions)
        mask = mask.to_numpy(dtype=bool)
        kept[name] = frame[~mask].reset_index(drop=True)
        if mask.any():
            dropped[table.raw_table] = int(mask.sum())
            if table.raw_table in parents:
                source = table.raw_table.split(".", 1)[1]
                keys = [f"record:{source}:{i}" for i in ids[mask]]
                parent_keys += keys
                suppressions = suppressions.with_keys(keys)
    return kept, dropped, parent_keys


def apply_cdc_batch(conn: WarehouseConnection, batch: CdcBatch, *, run_id: str) -> Applied:
    """Merge `batch` into the raw tables and record its LSN, in one unit of work: the merges
    and the state update commit together or not at all, on every dialect. Returns rows
    merged and suppressed per raw table. The tables must exist (`ensure_cdc_tables`).
    """
    extracted_at = pd.Timestamp.now(tz="UTC")
    frames, suppressed, parent_keys = without_suppressed(batch.frames, Suppressions.load(conn))
    with conn.unit_of_work() as unit:
        if parent_keys:
            rows = suppression_rows(parent_keys, reason="arrival", run_id=run_id)
            unit.merge(rows, SUPPRESSIONS_TABLE, ["suppression_hash"])
        for name, frame in frames.items():
            if len(frame):
                staged = unit.stage(frame.assign(_extracted_at=extracted_at, _run_id=run_id))
                for sql in _upsert_sql(conn, by_name(name), staged, guarded=not batch.snapshot):
                    unit.execute(sql)
        if batch.snapshot:
            for table in replicated_tables():
                unit.execute(_tombstone_missing_sql(conn, table, batch.lsn, run_id, extracted_at))
        for sql in _state_sql(conn, batch, run_id, extracted_at):
            unit.execute(sql)
    return Applied({by_name(n).raw_table: len(f) for n, f in frames.items()}, suppressed)


def _upsert_sql(
    conn: WarehouseConnection, table: ReplicatedTable, staged: str, *, guarded: bool
) -> list[str]:
    """Upsert staged rows; a delete marks the row `_op = 'delete'` (a tombstone) and keeps
    its last known values (a delete without values updates the bookkeeping columns only).

    Changes are LSN-guarded: they apply only over an older version, so replays are no-ops.
    A snapshot is not: it is the whole truth at its point, even over rows loaded from an
    earlier Postgres cluster whose LSNs were higher.
    """
    casts = [f"CAST({name} AS {sql_type}) AS {name}" for name, sql_type in table.columns]
    typed = (
        f"SELECT {', '.join(casts)}, {conn.literal(SOURCE)} AS _source, "
        f"CAST({table.key} AS VARCHAR) AS _source_id, _extracted_at, _run_id, _op, _lsn "
        f"FROM {staged}"
    )
    version = ["_lsn"] if guarded else []
    everything = [*table.column_names, *META_COLUMNS]
    bookkeeping = [table.key, *META_COLUMNS]
    with_values = f"({typed} WHERE _has_values)"
    without_values = f"({typed} WHERE NOT _has_values)"
    return [
        *conn.upsert_sql(
            table.raw_table, without_values, bookkeeping, [table.key], version, strictly_newer=True
        ),
        *conn.upsert_sql(
            table.raw_table, with_values, everything, [table.key], version, strictly_newer=True
        ),
    ]


def _tombstone_missing_sql(
    conn: WarehouseConnection, table: ReplicatedTable, lsn: int, run_id: str, at: pd.Timestamp
) -> str:
    """After a (re-)snapshot, live rows it did not write are gone from the source."""
    run = conn.literal(run_id)
    return (
        f"UPDATE {table.raw_table} SET _op = {conn.literal(DELETE)}, _lsn = {lsn}, "
        f"_run_id = {run}, _extracted_at = {conn.timestamp_literal(at)} "
        f"WHERE _op = {conn.literal(UPSERT)} AND (_lsn <> {lsn} OR _run_id <> {run})"
    )


def _state_sql(
    conn: WarehouseConnection, batch: CdcBatch, run_id: str, at: pd.Timestamp
) -> list[str]:
    """Record the consumed position. It only moves forward, except that a snapshot resets
    it (a new slot, possibly on a new Postgres cluster, starts a new LSN history)."""
    position = (
        f"(SELECT {conn.literal(batch.slot)} AS slot, CAST({batch.lsn} AS BIGINT) AS lsn, "
        f"{conn.literal(run_id)} AS run_id, {conn.timestamp_literal(at)} AS updated_at)"
    )
    version = [] if batch.snapshot else ["lsn"]
    columns = ["slot", "lsn", "run_id", "updated_at"]
    return conn.upsert_sql(STATE_TABLE, position, columns, ["slot"], version, strictly_newer=True)
