"""The replication slot and publication on the storefront Postgres: create, peek, advance,
heartbeat, status.

Changes are *peeked*, never consumed on read; the slot is advanced only over transactions
known to be applied in the warehouse or known to carry no rows. An idle slot is kept moving
by a transactional heartbeat message, so it never holds WAL without bound. Needs no
warehouse, so a sensor can use it.
"""

from __future__ import annotations

import time
from contextlib import closing
from dataclasses import dataclass

import psycopg2
import psycopg2.errors

from profile_assets.sources.cdc.pgoutput import Transaction, decode_pgoutput, int_to_lsn, lsn_to_int
from profile_assets.sources.cdc.tables import replicated_tables

SLOT = "profile_assets_cdc"
PUBLICATION = "profile_assets_cdc"
HEARTBEAT_PREFIX = "profile_assets.cdc.heartbeat"


def ensure_publication(pg) -> None:
    """Publish inserts, updates and deletes of the shop tables (idempotent)."""
    with pg.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [PUBLICATION])
        if cur.fetchone() is None:
            tables = ", ".join(t.name for t in replicated_tables())
            cur.execute(
                f"CREATE PUBLICATION {PUBLICATION} FOR TABLE {tables} "
                "WITH (publish = 'insert, update, delete')"
            )
    pg.commit()


def read_changes(
    pg, slot: str = SLOT, max_messages: int = 50_000, *, wait: float = 30.0
) -> list[Transaction]:
    """Peek (without consuming) whole committed transactions waiting in the slot.

    Stops after the transaction in which `max_messages` is reached, so a batch is bounded
    but never splits a source transaction. Waits up to `wait` seconds while another session
    (a sensor's peek) holds the slot.
    """
    sql = (
        "SELECT data FROM pg_logical_slot_peek_binary_changes(%s, NULL, %s, "
        "'proto_version', '1', 'publication_names', %s, 'messages', 'true')"
    )
    rows = _on_slot(pg, wait, sql, [slot, max_messages, PUBLICATION])
    return decode_pgoutput(row[0] for row in rows)


def advance_slot(pg, lsn: int, slot: str = SLOT, *, wait: float = 30.0) -> None:
    """Tell Postgres everything up to `lsn` is safely stored; it may recycle that WAL."""
    # Never backwards (an error in Postgres): a sensor's idle advance may have gone past
    # heartbeats this consumer is only now confirming.
    sql = (
        "SELECT pg_replication_slot_advance(slot_name, GREATEST(%s::pg_lsn, confirmed_flush_lsn)) "
        "FROM pg_replication_slots WHERE slot_name = %s"
    )
    _on_slot(pg, wait, sql, [int_to_lsn(lsn), slot])


def _on_slot(pg, wait: float, sql: str, params: list) -> list[tuple]:
    """Run a statement that acquires the slot; Postgres lets one session use a slot at a
    time and fails the others at once (ObjectInUse), so retry until `wait` runs out."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with pg.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall()
            pg.commit()
            return rows
        except psycopg2.errors.ObjectInUse:
            pg.rollback()
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def emit_heartbeat(pg) -> None:
    """Write a tiny transactional logical message: a commit the slot can advance to.

    Where allowed, first log a running-transactions record: the slot can only release WAL
    (move `restart_lsn`) past such a record, which Postgres otherwise writes every 15 s.
    """
    with pg.cursor() as cur:
        cur.execute("SELECT has_function_privilege('pg_log_standby_snapshot()', 'EXECUTE')")
        if cur.fetchone()[0]:
            cur.execute("SELECT pg_log_standby_snapshot()")
        cur.execute("SELECT pg_logical_emit_message(true, %s, '')", [HEARTBEAT_PREFIX])
    pg.commit()


@dataclass(frozen=True)
class SlotStatus:
    """What a sensor needs to decide whether to launch a CDC run. `busy`: a consumer is
    reading the slot right now (a run is in progress), so nothing could be counted."""

    exists: bool
    pending_changes: int
    confirmed_flush_lsn: int | None
    retained_wal_bytes: int | None
    busy: bool = False

    @property
    def needs_run(self) -> bool:
        return not self.busy and (not self.exists or self.pending_changes > 0)


def slot_status(dsn: str, slot: str = SLOT, max_messages: int = 10_000) -> SlotStatus:
    """Row changes waiting in the slot (counted up to about `max_messages`), and how much
    WAL the slot holds. Cheap enough for a sensor tick; never consumes anything."""
    with _connect(dsn) as pg:
        position = _slot_position(pg, slot)
        if position is None:
            return SlotStatus(False, 0, None, None)
        try:
            pending = sum(len(t.changes) for t in read_changes(pg, slot, max_messages, wait=1))
        except psycopg2.errors.ObjectInUse:
            return SlotStatus(True, 0, *position, busy=True)
        return SlotStatus(True, pending, *position)


def advance_idle_slot(dsn: str, slot: str = SLOT) -> int | None:
    """Keep an idle slot from holding WAL: emit a heartbeat, then advance over the pending
    transactions only if none of them carries a row change (those need the warehouse).

    Needs no warehouse connection, so a sensor may call it. Returns the slot's confirmed
    LSN after the call, or None when the slot does not exist.
    """
    with _connect(dsn) as pg:
        if _slot_position(pg, slot) is None:
            return None
        emit_heartbeat(pg)
        try:
            pending = read_changes(pg, slot, max_messages=1_000, wait=1)
            if pending and not any(t.changes for t in pending):
                advance_slot(pg, pending[-1].commit_lsn, slot, wait=1)
        except psycopg2.errors.ObjectInUse:
            pass  # a consumer holds the slot: it advances the slot itself
        return _slot_position(pg, slot)[0]


def _slot_position(pg, slot: str) -> tuple[int, int] | None:
    """(confirmed LSN, bytes of WAL held) of a usable slot; None if it is missing or lost
    (Postgres invalidates a slot that fell too far behind: only a new snapshot helps)."""
    with pg.cursor() as cur:
        cur.execute(
            "SELECT confirmed_flush_lsn::text, "
            "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint "
            "FROM pg_replication_slots WHERE slot_name = %s AND wal_status <> 'lost'",
            [slot],
        )
        row = cur.fetchone()
    pg.commit()
    return None if row is None else (lsn_to_int(row[0]), int(row[1]))


def _connect(dsn: str) -> closing:
    # psycopg2's own context manager only ends the transaction; this closes the session.
    return closing(psycopg2.connect(dsn))
