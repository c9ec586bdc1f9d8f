"""CDC from the storefront Postgres: exact, crash-safe, and never holding WAL when idle."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
import uuid
from contextlib import closing

import duckdb
import pandas as pd
import psycopg2
import psycopg2.extras
import pytest

from profile_assets.sandbox import storefront as sf
from profile_assets.sandbox.changes import generate_changes
from profile_assets.sources.cdc.apply import apply_cdc_batch, stored_lsn
from profile_assets.sources.cdc.batches import changes_batch
from profile_assets.sources.cdc.consumer import follow, sync
from profile_assets.sources.cdc.pgoutput import Change, Transaction, lsn_to_int
from profile_assets.sources.cdc.slot import (
    PUBLICATION,
    advance_idle_slot,
    read_changes,
    slot_status,
)
from profile_assets.sources.cdc.tables import by_name
from profile_assets.warehouse import DuckDBConnection


@pytest.fixture
def slot(storefront_server):
    """A slot per test (tests share the database); dropped afterwards so it holds no WAL."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    _pg(
        storefront_server,
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s",
        [name],
    )


@pytest.fixture
def warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    for schema in ("raw", "ops"):
        con.execute(f"CREATE SCHEMA {schema}")
    yield DuckDBConnection(con)
    con.close()


def _pg(storefront_server: sf.StorefrontServer, sql: str, params=None) -> list[tuple]:
    with closing(psycopg2.connect(storefront_server.dsn)) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        conn.commit()
        return rows


def _mutate(storefront_server: sf.StorefrontServer, storefront_world, seed: int):
    with closing(storefront_server.connect()) as conn:
        sf.apply_changes(conn, generate_changes(storefront_world, 100, seed=seed))


def assert_raw_matches_postgres(
    storefront_server: sf.StorefrontServer, wh: DuckDBConnection
) -> None:
    """Every live raw row equals its Postgres row (as text), one row per key."""
    for table in sf.TABLES:
        names = table.column_names
        source = _pg(
            storefront_server, f"SELECT {', '.join(f'{c}::text' for c in names)} FROM {table.name}"
        )
        casts = ", ".join(f"CAST({c} AS VARCHAR)" for c in names)
        raw = by_name(table.name).raw_table
        live = wh.con.execute(f"SELECT {casts} FROM {raw} WHERE _op = 'upsert'").fetchall()
        assert sorted(live) == sorted(source), table.name
        total, keys = wh.con.execute(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM {raw}").fetchall()[
            0
        ]
        assert total == keys, f"duplicate keys in {raw}"


def _state(wh: DuckDBConnection, slot: str) -> int | None:
    return stored_lsn(wh, slot)


def test_snapshot_then_changes_reproduce_postgres_exactly(
    storefront_server, storefront_world, slot, warehouse
):
    first = sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    assert first.snapshot_rows == sum(len(storefront_world.tables[t.world_name]) for t in sf.TABLES)
    assert_raw_matches_postgres(storefront_server, warehouse)

    _mutate(storefront_server, storefront_world, seed=21)
    _mutate(storefront_server, storefront_world, seed=22)
    second = sync(storefront_server.dsn, warehouse, run_id="run-2", slot=slot)
    assert second.snapshot_rows == 0
    assert second.transactions == 2
    assert_raw_matches_postgres(storefront_server, warehouse)
    meta = warehouse.con.execute(
        "SELECT DISTINCT _source, _run_id FROM raw.storefront_carts WHERE _lsn > ?",
        [first.lsn],
    ).fetchall()
    assert meta == [("storefront", "run-2")]


def test_every_raw_row_carries_its_bookkeeping(storefront_server, slot, warehouse):
    sync(storefront_server.dsn, warehouse, run_id="run-meta", slot=slot)
    rows = warehouse.con.execute(
        "SELECT _source, _source_id = CAST(id AS VARCHAR), _run_id, _op, _lsn IS NOT NULL, "
        "_extracted_at <= now() FROM raw.storefront_orders"
    ).fetchall()
    assert rows and set(rows) == {("storefront", True, "run-meta", "upsert", True, True)}


def test_deletes_arrive_as_tombstones_that_keep_the_last_values(
    storefront_server, storefront_world, slot, warehouse
):
    sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    victim = int(_pg(storefront_server, "SELECT MIN(id) FROM orders")[0][0])
    before = warehouse.con.execute(
        "SELECT amount, _lsn FROM raw.storefront_orders WHERE id = ?", [victim]
    ).fetchall()[0]
    _pg(storefront_server, "DELETE FROM orders WHERE id = %s", [victim])
    storefront_world.tables["storefront_orders"] = storefront_world.tables[
        "storefront_orders"
    ].query("id != @victim")

    sync(storefront_server.dsn, warehouse, run_id="run-2", slot=slot)
    after = warehouse.con.execute(
        "SELECT amount, _op, _lsn, _run_id FROM raw.storefront_orders WHERE id = ?", [victim]
    ).fetchall()
    assert len(after) == 1
    amount, op, lsn, run_id = after[0]
    assert (amount, op, run_id) == (before[0], "delete", "run-2")
    assert lsn > before[1]
    assert_raw_matches_postgres(storefront_server, warehouse)


def test_insert_update_delete_in_one_transaction_collapse_to_the_final_state(
    storefront_server, slot, warehouse
):
    sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    existing = int(_pg(storefront_server, "SELECT MIN(id) FROM carts")[0][0])
    with closing(storefront_server.connect()) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO carts (id, status) VALUES (900001, 'open'), (900002, 'open')")
        cur.execute("UPDATE carts SET status = 'converted' WHERE id IN (900001, %s)", [existing])
        cur.execute("DELETE FROM carts WHERE id IN (900002, %s)", [existing])
        conn.commit()
    sync(storefront_server.dsn, warehouse, run_id="run-2", slot=slot)
    rows = warehouse.con.execute(
        "SELECT id, status, _op FROM raw.storefront_carts WHERE id IN (?, 900001, 900002) "
        "ORDER BY id",
        [existing],
    ).fetchall()
    # Tombstones keep the last values the source had, even those it never committed alone.
    assert rows == [
        (existing, "converted", "delete"),
        (900001, "converted", "upsert"),
        (900002, "open", "delete"),
    ]
    assert_raw_matches_postgres(storefront_server, warehouse)
    _pg(storefront_server, "DELETE FROM carts WHERE id > 900000")


def test_crash_after_warehouse_commit_before_slot_advance_applies_nothing_twice(
    storefront_server, storefront_world, slot, warehouse
):
    sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    _mutate(storefront_server, storefront_world, seed=31)
    with closing(psycopg2.connect(storefront_server.dsn)) as pg:
        transactions = read_changes(pg, slot)
        batch = changes_batch(transactions, after_lsn=_state(warehouse, slot), slot=slot)
        apply_cdc_batch(warehouse, batch, run_id="crashed-run")
    # ... the process dies here: the slot was never advanced.
    assert slot_status(storefront_server.dsn, slot).pending_changes > 0

    rerun = sync(storefront_server.dsn, warehouse, run_id="rerun", slot=slot)
    assert (rerun.changes, rerun.transactions) == (0, 0)
    assert slot_status(storefront_server.dsn, slot).pending_changes == 0
    assert_raw_matches_postgres(storefront_server, warehouse)
    reruns = warehouse.con.execute(
        "SELECT COUNT(*) FROM raw.storefront_customers WHERE _run_id = 'rerun'"
    ).fetchall()
    assert reruns == [(0,)]


def test_replaying_an_applied_batch_changes_nothing(
    storefront_server, storefront_world, slot, warehouse
):
    sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    _mutate(storefront_server, storefront_world, seed=33)
    with closing(psycopg2.connect(storefront_server.dsn)) as pg:
        batch = changes_batch(read_changes(pg, slot), after_lsn=0, slot=slot)
    apply_cdc_batch(warehouse, batch, run_id="first")
    snapshot = warehouse.con.execute("SELECT * FROM raw.storefront_cart_items").fetchall()
    apply_cdc_batch(warehouse, batch, run_id="replay")
    assert warehouse.con.execute("SELECT * FROM raw.storefront_cart_items").fetchall() == snapshot


def test_crash_between_read_and_commit_loses_nothing(
    storefront_server, storefront_world, slot, warehouse
):
    sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    position = _state(warehouse, slot)
    _mutate(storefront_server, storefront_world, seed=41)
    with closing(psycopg2.connect(storefront_server.dsn)) as pg:
        batch = changes_batch(read_changes(pg, slot), after_lsn=position, slot=slot)
    # The warehouse transaction dies half way: the first merges ran, the last one fails.
    assert len(batch.frames) >= 2
    last = batch.frames[list(batch.frames)[-1]]
    last.loc[last.index[0], "id"] = "not-a-number"
    with pytest.raises(duckdb.Error):
        apply_cdc_batch(warehouse, batch, run_id="crashed-run")
    assert _state(warehouse, slot) == position
    for table in sf.TABLES:
        crashed = warehouse.con.execute(
            f"SELECT COUNT(*) FROM {by_name(table.name).raw_table} WHERE _run_id = 'crashed-run'"
        ).fetchall()
        assert crashed == [(0,)], table.name

    sync(storefront_server.dsn, warehouse, run_id="rerun", slot=slot)
    assert_raw_matches_postgres(storefront_server, warehouse)


def test_sigkilled_consumer_rerun_loses_and_duplicates_nothing(storefront_server, slot, tmp_path):
    """A consumer process killed with SIGKILL mid-stream, twice, then rerun. Forked, so it
    starts in milliseconds with everything imported."""
    path = str(tmp_path / "killed.duckdb")
    fork = multiprocessing.get_context("fork")
    cart = 1_000_000
    with closing(storefront_server.connect()) as conn:
        for _ in range(2):
            consumer = fork.Process(target=_consume, args=(storefront_server.dsn, path, slot))
            consumer.start()
            try:
                cart = _write_until_acknowledged(conn, storefront_server, slot, cart)
                cart = _write_cart_changes(conn, cart, 30)  # the consumer is busy: kill it
            finally:
                os.kill(consumer.pid, signal.SIGKILL)
                consumer.join()
        _write_cart_changes(conn, cart, 30)
    con = duckdb.connect(path)
    wh = DuckDBConnection(con)
    assert stored_lsn(wh, slot) is not None
    sync(storefront_server.dsn, wh, run_id="after-kill", slot=slot)
    assert_raw_matches_postgres(storefront_server, wh)
    con.close()
    _pg(storefront_server, "DELETE FROM carts WHERE id >= 1000000")


def _consume(dsn: str, path: str, slot: str) -> None:
    con = duckdb.connect(path)
    for schema in ("raw", "ops"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    follow(dsn, DuckDBConnection(con), slot=slot, poll_interval=0.01)


def _confirmed(storefront_server: sf.StorefrontServer, slot: str) -> str | None:
    rows = _pg(
        storefront_server,
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
        [slot],
    )
    return rows[0][0] if rows else None


def _write_until_acknowledged(
    conn, storefront_server, slot: str, cart: int, timeout: float = 60
) -> int:
    """Keep writing until the consumer has applied and acknowledged at least one batch."""
    deadline = time.monotonic() + timeout
    first_seen = None
    while time.monotonic() < deadline:
        cart = _write_cart_changes(conn, cart, 5)
        confirmed = _confirmed(storefront_server, slot)
        first_seen = first_seen or confirmed
        if confirmed is not None and confirmed != first_seen:
            return cart
    raise AssertionError("the consumer never acknowledged a batch")


def _write_cart_changes(conn, cart: int, count: int) -> int:
    """Inserts, updates and deletes in tiny transactions, paced like shop traffic."""
    with conn.cursor() as cur:
        for _ in range(count):
            cur.execute(
                "INSERT INTO carts (id, customer_id, status, created_at, updated_at) "
                "VALUES (%s, %s, 'open', localtimestamp, localtimestamp)",
                [cart, cart % 97],
            )
            if cart % 3 == 0:
                cur.execute("UPDATE carts SET status = 'converted' WHERE id = %s", [cart - 1])
            if cart % 5 == 0:
                cur.execute("DELETE FROM carts WHERE id = %s", [cart - 2])
            conn.commit()
            cart += 1
            time.sleep(0.005)
    return cart


def test_idle_slot_is_advanced_by_a_heartbeat_and_releases_wal(storefront_server, slot, warehouse):
    sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    before = slot_status(storefront_server.dsn, slot)
    _pg(storefront_server, "CREATE TABLE IF NOT EXISTS noise (x int, pad text)")
    _pg(
        storefront_server,
        "INSERT INTO noise SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g",
    )
    noisy = slot_status(storefront_server.dsn, slot)
    assert noisy.pending_changes == 0
    assert noisy.retained_wal_bytes > 4_000_000  # the slot pins WAL it has no use for

    wal_now = lsn_to_int(_pg(storefront_server, "SELECT pg_current_wal_lsn()::text")[0][0])
    confirmed = advance_idle_slot(storefront_server.dsn, slot)
    after = slot_status(storefront_server.dsn, slot)
    assert confirmed == after.confirmed_flush_lsn
    assert after.confirmed_flush_lsn > wal_now > before.confirmed_flush_lsn
    assert after.retained_wal_bytes < 100_000
    _pg(storefront_server, "DROP TABLE noise")


def test_idle_advance_never_skips_waiting_row_changes(
    storefront_server, storefront_world, slot, warehouse
):
    sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    _mutate(storefront_server, storefront_world, seed=51)
    status = slot_status(storefront_server.dsn, slot)
    assert status.needs_run and status.pending_changes > 0
    assert advance_idle_slot(storefront_server.dsn, slot) == status.confirmed_flush_lsn
    sync(storefront_server.dsn, warehouse, run_id="run-2", slot=slot)
    assert_raw_matches_postgres(storefront_server, warehouse)
    assert not slot_status(storefront_server.dsn, slot).needs_run


def test_a_lost_slot_is_resnapshotted_and_deletes_meanwhile_become_tombstones(
    storefront_server, storefront_world, slot, warehouse
):
    sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    _pg(storefront_server, "SELECT pg_drop_replication_slot(%s)", [slot])
    victim = int(_pg(storefront_server, "SELECT MAX(id) FROM order_items")[0][0])
    _pg(storefront_server, "DELETE FROM order_items WHERE id = %s", [victim])
    storefront_world.tables["storefront_order_items"] = storefront_world.tables[
        "storefront_order_items"
    ].query("id != @victim")
    assert slot_status(storefront_server.dsn, slot).needs_run

    result = sync(storefront_server.dsn, warehouse, run_id="resnapshot", slot=slot)
    assert result.snapshot_rows > 0
    assert_raw_matches_postgres(storefront_server, warehouse)
    tombstone = warehouse.con.execute(
        "SELECT _op, _run_id FROM raw.storefront_order_items WHERE id = ?", [victim]
    ).fetchall()
    assert tombstone == [("delete", "resnapshot")]


def test_a_second_consumer_of_the_slot_waits_for_the_first(storefront_server, slot, warehouse):
    stop_first, second_done = threading.Event(), threading.Event()
    first = threading.Thread(
        target=follow,
        args=(storefront_server.dsn, DuckDBConnection(warehouse.con.cursor())),
        kwargs={"slot": slot, "poll_interval": 0.01, "should_stop": stop_first.is_set},
    )
    first.start()
    deadline = time.monotonic() + 30
    while stored_lsn(DuckDBConnection(warehouse.con.cursor()), slot) is None:
        assert time.monotonic() < deadline, "the first consumer never took its snapshot"
        time.sleep(0.01)

    def second() -> None:
        sync(
            storefront_server.dsn, DuckDBConnection(warehouse.con.cursor()), run_id="2nd", slot=slot
        )
        second_done.set()

    waiting = threading.Thread(target=second)
    waiting.start()
    assert not second_done.wait(1.0)
    stop_first.set()
    first.join(30)
    assert second_done.wait(30)
    waiting.join()
    assert_raw_matches_postgres(storefront_server, warehouse)


def test_a_slot_held_by_another_session_reads_as_busy_and_consumers_wait(
    storefront_server, storefront_world, slot, warehouse
):
    sync(storefront_server.dsn, warehouse, run_id="run-1", slot=slot)
    _mutate(storefront_server, storefront_world, seed=61)
    holder = psycopg2.connect(
        storefront_server.dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection
    )
    holder.cursor().start_replication(
        slot_name=slot, options={"proto_version": "1", "publication_names": PUBLICATION}
    )
    status = slot_status(storefront_server.dsn, slot)
    assert status.busy and not status.needs_run
    assert advance_idle_slot(storefront_server.dsn, slot) == status.confirmed_flush_lsn

    threading.Timer(0.5, holder.close).start()  # the other session lets go mid-sync
    sync(storefront_server.dsn, warehouse, run_id="run-2", slot=slot)
    assert_raw_matches_postgres(storefront_server, warehouse)


def _cart(op: str, cart_id: str, status: str | None) -> Change:
    values = {"id": cart_id, "customer_id": None, "status": status}
    return Change("carts", op, values | {"created_at": None, "updated_at": None})


def test_a_batch_keeps_the_last_version_and_tombstones_inherit_the_previous_one():
    transactions = [
        Transaction(100, [_cart("upsert", "1", "open")]),
        Transaction(200, [_cart("upsert", "1", None), _cart("delete", "1", None)]),
        Transaction(300, [_cart("delete", "2", None)]),
    ]
    batch = changes_batch(transactions, after_lsn=0, slot="s")
    assert (batch.lsn, batch.changes, batch.transactions) == (300, 4, 3)
    rows = batch.frames["carts"].set_index("id")
    # Cart 1's last version had no status: its tombstone says so, not the older 'open'.
    assert rows.loc["1", ["status", "_op", "_lsn", "_has_values"]].tolist() == [
        pd.NA,
        "delete",
        200,
        True,
    ]
    # Cart 2 was deleted with nothing known in the batch: the warehouse keeps its values.
    assert rows.loc["2", ["_op", "_has_values"]].tolist() == ["delete", False]
    # Transactions at or below the stored position were applied before: skipped.
    assert changes_batch(transactions, after_lsn=100, slot="s").transactions == 2
    assert changes_batch(transactions, after_lsn=300, slot="s") is None
