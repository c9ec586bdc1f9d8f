"""Log-based change data capture from the storefront Postgres into `raw.storefront_*`.

How it stays exact:
- A logical replication slot (pgoutput, filtered by a publication) keeps every change from
  the moment it is created; the rows that existed before are read under the snapshot the
  slot exports, so snapshot + changes is neither short nor overlapping.
- Changes are *peeked*, never consumed on read. A batch of whole source transactions is
  merged into the warehouse in ONE transaction that also records, in `ops.cdc_state`, the
  commit LSN it went up to. Only after that commit is the slot advanced. A crash anywhere
  replays changes at worst (at-least-once), and replays change nothing: transactions at or
  below the stored LSN are skipped, and every row merge is guarded by `_lsn`.
- Positions are commit *end* LSNs read from pgoutput's Commit message, never the LSN column
  of the peek output: the first row of a transaction carries the previous commit's end LSN.
- An idle slot is kept moving by a transactional heartbeat message, so it never holds WAL
  without bound; the slot is only ever advanced over transactions known to be applied or
  known to carry no rows.
"""

from __future__ import annotations

import struct
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd
import psycopg2
import psycopg2.errors
import psycopg2.extras

from profile_assets.sources.cdc.tables import SOURCE, ReplicatedTable, by_name, replicated_tables

if TYPE_CHECKING:  # importing the warehouse module pulls in Dagster: seconds per process
    from profile_assets.warehouse import WarehouseConnection

SLOT = "profile_assets_cdc"
PUBLICATION = "profile_assets_cdc"
STATE_TABLE = "ops.cdc_state"
HEARTBEAT_PREFIX = "profile_assets.cdc.heartbeat"
UPSERT, DELETE = "upsert", "delete"
META_COLUMNS = ("_source", "_source_id", "_extracted_at", "_run_id", "_op", "_lsn")


def lsn_to_int(lsn: str) -> int:
    """'16/B374D848' -> 0x16B374D848: LSNs as integers sort and compare correctly."""
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def int_to_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


# --- decoding pgoutput ------------------------------------------------------------------


@dataclass(slots=True)
class Change:
    """One row change; values are Postgres' text output of each column (None for NULL)."""

    table: str
    op: str
    values: dict[str, str | None]


@dataclass
class Transaction:
    """A committed source transaction. `commit_lsn` is the end of its commit record, the
    position a consumer confirms once it has applied the transaction."""

    commit_lsn: int
    changes: list[Change] = field(default_factory=list)


class _Reader:
    """Cursor over one pgoutput message (network byte order, C strings).

    The hot path (tuple data, run once per row change) avoids per-field struct calls.
    """

    _structs: dict[str, struct.Struct] = {}

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def unpack(self, fmt: str):
        layout = self._structs.get(fmt) or self._structs.setdefault(fmt, struct.Struct(fmt))
        values = layout.unpack_from(self.data, self.pos)
        self.pos += layout.size
        return values

    def string(self) -> str:
        end = self.data.index(b"\0", self.pos)
        text = self.data[self.pos : end].decode()
        self.pos = end + 1
        return text

    def tuple_data(self) -> list[str | None]:
        data, pos = self.data, self.pos
        count = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        values: list[str | None] = []
        for _ in range(count):
            kind = data[pos]
            pos += 1
            if kind == 0x74:  # 't': text
                length = int.from_bytes(data[pos : pos + 4], "big")
                pos += 4
                values.append(data[pos : pos + length].decode())
                pos += length
            elif kind == 0x6E:  # 'n': NULL
                values.append(None)
            else:
                # 'u' = unchanged TOASTed value: storefront rows are far below the TOAST
                # threshold; failing loudly beats writing a wrong NULL.
                raise ValueError(f"unsupported pgoutput column kind {chr(kind)!r}")
        self.pos = pos
        return values


def decode_pgoutput(messages: Iterable[bytes]) -> list[Transaction]:
    """Decode pgoutput (protocol 1) messages into committed transactions.

    Relation messages precede the first change of each table in every decoding session, so
    the relation map is local to one call. Heartbeat messages yield transactions without
    changes: they still carry a commit LSN the slot may advance to.
    """
    relations: dict[int, tuple[str, list[str]]] = {}
    done: list[Transaction] = []
    current: list[Change] = []
    for message in messages:
        reader = _Reader(bytes(message))
        (kind,) = reader.unpack("!c")
        if kind == b"B":
            current = []
        elif kind == b"C":
            _flags, _commit, end_lsn, _ts = reader.unpack("!bqqq")
            done.append(Transaction(commit_lsn=end_lsn, changes=current))
        elif kind == b"R":
            relid, table, columns = _relation(reader)
            relations[relid] = (table, columns)
        elif kind in (b"I", b"U", b"D"):
            current.append(_row_change(kind, reader, relations))
        elif kind not in (b"M", b"Y", b"O"):
            raise ValueError(f"unexpected pgoutput message {kind!r}")
    return done


def _relation(reader: _Reader) -> tuple[int, str, list[str]]:
    (relid,) = reader.unpack("!I")
    reader.string()  # namespace
    table = reader.string()
    _replica_identity, ncols = reader.unpack("!bh")
    columns = []
    for _ in range(ncols):
        reader.unpack("!b")
        columns.append(reader.string())
        reader.unpack("!Ii")
    return relid, table, columns


def _row_change(kind: bytes, reader: _Reader, relations: dict) -> Change:
    (relid,) = reader.unpack("!I")
    table, columns = relations[relid]
    (marker,) = reader.unpack("!c")
    if kind == b"U" and marker in (b"K", b"O"):
        reader.tuple_data()  # the old key: the new tuple below carries it too
        (marker,) = reader.unpack("!c")
    values = dict(zip(columns, reader.tuple_data(), strict=True))
    return Change(table=table, op=DELETE if kind == b"D" else UPSERT, values=values)


# --- reading the slot ---------------------------------------------------------------------


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


# --- batches -----------------------------------------------------------------------------


@dataclass
class CdcBatch:
    """Rows to merge into the raw tables, as Postgres text, plus the position they reach.

    `frames` holds, per Postgres table, the latest change per key with `_op` and `_lsn`.
    A snapshot batch also tombstones warehouse rows absent from the snapshot. `changes` and
    `transactions` count what was read from the source, before collapsing per key.
    """

    slot: str
    lsn: int
    frames: dict[str, pd.DataFrame]
    snapshot: bool = False
    changes: int = 0
    transactions: int = 0


def changes_batch(
    transactions: list[Transaction], *, after_lsn: int, slot: str = SLOT
) -> CdcBatch | None:
    """The transactions committed after `after_lsn`, collapsed to the last change per key.
    None when there is nothing new (everything was applied before a crash)."""
    fresh = [t for t in transactions if t.commit_lsn > after_lsn]
    if not fresh:
        return None
    rows: dict[str, list[dict]] = {}
    for transaction in fresh:
        for change in transaction.changes:
            row = {**change.values, "_op": change.op, "_lsn": transaction.commit_lsn}
            rows.setdefault(change.table, []).append(row)
    frames = {
        name: _frame(by_name(name), pd.DataFrame(table_rows)) for name, table_rows in rows.items()
    }
    return CdcBatch(
        slot=slot,
        lsn=fresh[-1].commit_lsn,
        frames=frames,
        changes=sum(len(t.changes) for t in fresh),
        transactions=len(fresh),
    )


def _frame(table: ReplicatedTable, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per key (the last: rows arrive in commit order), values as text.

    A delete carries only the key. It takes the values of the key's previous version in the
    batch (`_has_values`), or else the merge keeps the warehouse's: either way a tombstone
    keeps the row's last known values, however the changes happened to be batched.
    """
    frame = frame[[*table.column_names, "_op", "_lsn"]].reset_index(drop=True)
    seen_before = frame.groupby(table.key, sort=False).cumcount() > 0
    frame["_has_values"] = (frame["_op"] == UPSERT) | seen_before
    inherit = (frame["_op"] == DELETE) & seen_before
    if inherit.any():
        values = table.column_names[1:]
        previous = frame.groupby(table.key, sort=False)[values].shift(1)
        frame.loc[inherit, values] = previous.loc[inherit, values]
    frame = frame.drop_duplicates(table.key, keep="last")
    return frame.astype({c: "string" for c in table.column_names}).astype({"_lsn": "int64"})


def snapshot_batch(dsn: str, slot: str = SLOT) -> CdcBatch:
    """Create the slot and read every pre-existing row under the snapshot it exports.

    The snapshot is exactly the state before the slot's first change, so snapshot rows get
    the slot's consistent point as `_lsn` and every later change sorts after them. Any old
    slot of that name is dropped first: its position means nothing without its snapshot.
    """
    with _connect(dsn) as pg:
        ensure_publication(pg)
        with pg.cursor() as cur:
            cur.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s",
                [slot],
            )
        pg.commit()
    replication = psycopg2.connect(
        dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection
    )
    try:
        with replication.cursor() as rcur:
            rcur.execute(f"CREATE_REPLICATION_SLOT {slot} LOGICAL pgoutput (SNAPSHOT 'export')")
            _name, consistent_point, snapshot_name, _plugin = rcur.fetchone()
            lsn = lsn_to_int(consistent_point)
            frames = _read_snapshot(dsn, snapshot_name, lsn)
    finally:
        replication.close()
    rows = sum(len(f) for f in frames.values())
    return CdcBatch(slot=slot, lsn=lsn, frames=frames, snapshot=True, changes=rows)


def _read_snapshot(dsn: str, snapshot_name: str, lsn: int) -> dict[str, pd.DataFrame]:
    with _connect(dsn) as pg:
        pg.set_session(isolation_level="REPEATABLE READ", readonly=True)
        frames = {}
        with pg.cursor() as cur:
            cur.execute("SET TRANSACTION SNAPSHOT %s", [snapshot_name])
            for table in replicated_tables():
                # ::text gives the same rendering pgoutput uses, so both paths load alike.
                select = ", ".join(f"{c}::text" for c in table.column_names)
                cur.execute(f"SELECT {select} FROM {table.name}")
                rows = pd.DataFrame(cur.fetchall(), columns=table.column_names)
                frames[table.name] = _frame(table, rows.assign(_op=UPSERT, _lsn=lsn))
        pg.commit()
    return frames


# --- applying to the warehouse ---------------------------------------------------------


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


def apply_cdc_batch(conn: WarehouseConnection, batch: CdcBatch, *, run_id: str) -> dict[str, int]:
    """Merge `batch` into the raw tables and record its LSN, in one unit of work: the merges
    and the state update commit together or not at all, on every dialect. Returns rows
    merged per raw table. The tables must exist (`ensure_cdc_tables`).
    """
    extracted_at = pd.Timestamp.now(tz="UTC")
    with conn.unit_of_work() as unit:
        for name, frame in batch.frames.items():
            if len(frame):
                staged = unit.stage(frame.assign(_extracted_at=extracted_at, _run_id=run_id))
                for sql in _upsert_sql(conn, by_name(name), staged, guarded=not batch.snapshot):
                    unit.execute(sql)
        if batch.snapshot:
            for table in replicated_tables():
                unit.execute(_tombstone_missing_sql(conn, table, batch.lsn, run_id, extracted_at))
        for sql in _state_sql(conn, batch, run_id, extracted_at):
            unit.execute(sql)
    return {by_name(n).raw_table: len(f) for n, f in batch.frames.items()}


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


# --- the consumer --------------------------------------------------------------------------


@dataclass
class SyncResult:
    """What one sync did: rows snapshotted, source row changes and transactions applied,
    the LSN the warehouse now holds, and rows merged per raw table (for asset metadata)."""

    snapshot_rows: int = 0
    changes: int = 0
    transactions: int = 0
    lsn: int | None = None
    rows_by_table: dict[str, int] = field(default_factory=dict)

    def add(self, counts: dict[str, int]) -> None:
        for table, n in counts.items():
            self.rows_by_table[table] = self.rows_by_table.get(table, 0) + n


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
