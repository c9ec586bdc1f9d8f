"""Batches of rows to merge into the raw tables: the initial snapshot under the slot's
exported snapshot, and collapsed runs of whole committed transactions.

The rows that existed before the slot are read under the snapshot it exports, so snapshot
+ changes is neither short nor overlapping. A batch is pure data (DataFrames as Postgres
text plus the LSN it reaches), so it is built without the warehouse and applied by `apply`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import psycopg2
import psycopg2.extras

from profile_assets.quarantine.rejections import DELETE, UPSERT
from profile_assets.sources.cdc.pgoutput import Transaction, lsn_to_int
from profile_assets.sources.cdc.slot import SLOT, _connect, ensure_publication
from profile_assets.sources.cdc.tables import ReplicatedTable, by_name, replicated_tables


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
