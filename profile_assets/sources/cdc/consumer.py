"""The CDC consumer: snapshot once, then apply and acknowledge batches until the slot is
drained (`sync`, one Dagster run) or until told to stop (`follow`, a long-running consumer).

Safe to kill at any point and rerun: the warehouse commits before the slot advances, so
nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from profile_assets.sources.cdc.apply import (
    Applied,
    apply_cdc_batch,
    ensure_cdc_tables,
    stored_lsn,
)
from profile_assets.sources.cdc.batches import changes_batch, snapshot_batch
from profile_assets.sources.cdc.slot import (
    PUBLICATION,
    SLOT,
    _connect,
    _slot_position,
    advance_slot,
    emit_heartbeat,
    read_changes,
)

if TYPE_CHECKING:  # importing the warehouse module pulls in Dagster: seconds per process
    from profile_assets.warehouse import WarehouseConnection


@dataclass
class SyncResult:
    """What one sync did: rows snapshotted, source row changes and transactions applied,
    the LSN the warehouse now holds, and rows merged per raw table (for asset metadata)."""

    snapshot_rows: int = 0
    changes: int = 0
    transactions: int = 0
    lsn: int | None = None
    rows_by_table: dict[str, int] = field(default_factory=dict)
    #: Rows of erased people dropped on arrival, per raw table.
    suppressed_by_table: dict[str, int] = field(default_factory=dict)

    def add(self, applied: Applied) -> None:
        for totals, counts in (
            (self.rows_by_table, applied.merged),
            (self.suppressed_by_table, applied.suppressed),
        ):
            for table, n in counts.items():
                totals[table] = totals.get(table, 0) + n


def sync(
    dsn: str,
    conn: WarehouseConnection,
    *,
    run_id: str,
    slot: str = SLOT,
    max_messages: int = 50_000,
) -> SyncResult:
    """Bring the raw tables up to date with the storefront, then return.

    First use (or a lost slot) takes the initial snapshot. Then batches of whole
    transactions are applied and acknowledged until the slot is drained. Safe to kill at any
    point and rerun: nothing is lost, nothing is applied twice.
    """
    result = SyncResult()
    with _connect(dsn) as pg:
        _take_slot(pg, slot)
        ensure_cdc_tables(conn)
        position = _snapshot_if_needed(pg, dsn, conn, run_id, slot, result)
        _drain(pg, conn, position, run_id, slot, max_messages, result)
    return result


def _take_slot(pg, slot: str, timeout: str = "10min") -> None:
    """One consumer per slot at a time: two concurrent first runs would each take a
    snapshot, and the older one could land last. A session lock, so a killed consumer's
    lock goes with its connection; a second consumer waits its turn."""
    with pg.cursor() as cur:
        cur.execute(f"SET lock_timeout = '{timeout}'")
        cur.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"{PUBLICATION}:{slot}"])
    pg.commit()


def _snapshot_if_needed(pg, dsn, conn, run_id: str, slot: str, result: SyncResult) -> int:
    position = stored_lsn(conn, slot)
    if position is None or _slot_position(pg, slot) is None:
        batch = snapshot_batch(dsn, slot)
        result.add(apply_cdc_batch(conn, batch, run_id=run_id))
        result.snapshot_rows = batch.changes
        position = batch.lsn
    result.lsn = position
    return position


def _drain(pg, conn, position: int, run_id: str, slot: str, max_messages: int, result) -> int:
    while transactions := read_changes(pg, slot, max_messages):
        batch = changes_batch(transactions, after_lsn=position, slot=slot)
        if batch is not None:
            result.add(apply_cdc_batch(conn, batch, run_id=run_id))
            result.changes += batch.changes
            result.transactions += batch.transactions
        # Only now, with the warehouse committed, may Postgres forget these transactions.
        position = max(position, transactions[-1].commit_lsn)
        advance_slot(pg, position, slot)
    result.lsn = position
    return position


def follow(
    dsn: str,
    conn: WarehouseConnection,
    *,
    run_id: str | None = None,
    slot: str = SLOT,
    poll_interval: float = 0.05,
    heartbeat_interval: float = 10.0,
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    """Keep the raw tables within a poll interval of the storefront until `should_stop()`.

    For a long-running consumer (and the lag benchmark); Dagster runs call `sync` instead.
    When nothing arrives for `heartbeat_interval` seconds a heartbeat moves the slot on.
    """
    run_id = run_id or f"cdc-follow-{uuid.uuid4()}"
    last_change = time.monotonic()
    with _connect(dsn) as pg:
        _take_slot(pg, slot)
        ensure_cdc_tables(conn)
        position = _snapshot_if_needed(pg, dsn, conn, run_id, slot, SyncResult())
        while not should_stop():
            result = SyncResult()
            position = _drain(pg, conn, position, run_id, slot, 50_000, result)
            if result.transactions:
                last_change = time.monotonic()
            elif time.monotonic() - last_change > heartbeat_interval:
                emit_heartbeat(pg)
                last_change = time.monotonic()
            time.sleep(poll_interval)
