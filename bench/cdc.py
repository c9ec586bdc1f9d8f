"""CDC from the storefront Postgres: throughput and lag (target: lag p99 <= 1 s).

    .venv/bin/python bench/cdc.py --people 10000 --changes 100000

1. Snapshot: a world of `--people` is loaded into a fresh storefront; the first sync
   snapshots it into a DuckDB file.
2. Throughput: `--changes` row changes (half inserts, 30% updates, 20% deletes of carts, in
   transactions of 1,000) wait in the slot; one sync drains them.
3. Lag: a consumer follows the slot (`cdc.follow`, in a thread) while single carts are
   inserted, one per transaction at random gaps; lag is from the insert's commit returning to
   the row being visible in `raw.storefront_carts`.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

import duckdb

from profile_assets.sandbox import storefront as sf
from profile_assets.sandbox.world import generate_world
from profile_assets.sources.cdc.consumer import follow, sync
from profile_assets.warehouse import DuckDBConnection

TARGET_P99_S = 1.0
FIRST_BENCH_ID = 10_000_000


def _warehouse(path: Path) -> DuckDBConnection:
    con = duckdb.connect(str(path))
    for schema in ("raw", "ops"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return DuckDBConnection(con)


def _write_changes(conn, total: int, per_transaction: int = 1_000) -> None:
    """Half inserts, then 30% updates and 20% deletes of those rows, in SQL batches."""
    inserts, updates = total // 2, total * 3 // 10
    deletes = total - inserts - updates
    plan = [
        ("INSERT INTO carts (id, customer_id, status, created_at, updated_at) "
         "SELECT g, g %% 9973, 'open', localtimestamp, localtimestamp "
         "FROM generate_series(%s, %s) g", inserts),
        ("UPDATE carts SET status = 'converted', updated_at = localtimestamp "
         "WHERE id BETWEEN %s AND %s", updates),
        ("DELETE FROM carts WHERE id BETWEEN %s AND %s", deletes),
    ]  # fmt: skip
    with conn.cursor() as cur:
        for sql, count in plan:
            for start in range(0, count, per_transaction):
                first = FIRST_BENCH_ID + start
                last = FIRST_BENCH_ID + min(start + per_transaction, count) - 1
                cur.execute(sql, [first, last])
                conn.commit()


def _lag(server: sf.StorefrontServer, wh: DuckDBConnection, samples: int, poll: float):
    stop = threading.Event()
    consumer = threading.Thread(
        target=follow,
        args=(server.dsn, DuckDBConnection(wh.con.cursor())),
        kwargs={"run_id": "bench-lag", "poll_interval": poll, "should_stop": stop.is_set},
    )
    consumer.start()
    reader = wh.con.cursor()
    lags = []
    try:
        with closing(server.connect()) as conn, conn.cursor() as cur:
            for i in range(samples):
                cart = FIRST_BENCH_ID * 2 + i
                cur.execute(
                    "INSERT INTO carts (id, status, created_at, updated_at) "
                    "VALUES (%s, 'open', localtimestamp, localtimestamp)",
                    [cart],
                )
                conn.commit()
                committed = time.perf_counter()
                while not reader.execute(
                    "SELECT 1 FROM raw.storefront_carts WHERE id = ?", [cart]
                ).fetchall():
                    time.sleep(0.002)
                lags.append(time.perf_counter() - committed)
                time.sleep(random.uniform(0.0, 0.1))
    finally:
        stop.set()
        consumer.join()
    return lags


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--lag-samples", type=int, default=300)
    parser.add_argument("--poll-interval", type=float, default=0.05)
    args = parser.parse_args()
    random.seed(7)

    with tempfile.TemporaryDirectory(prefix="bench-cdc-") as tmp:
        server = sf.start_storefront(Path(tmp) / "storefront")
        try:
            world = generate_world(args.people, seed=7)
            with closing(server.connect()) as conn:
                sf.create_schema(conn)
                loaded = sum(sf.load_world(conn, world).values())
            wh = _warehouse(Path(tmp) / "warehouse.duckdb")

            started = time.perf_counter()
            snapshot = sync(server.dsn, wh, run_id="bench-snapshot")
            snapshot_s = time.perf_counter() - started
            assert snapshot.snapshot_rows == loaded

            with closing(server.connect()) as conn:
                _write_changes(conn, args.changes)
            started = time.perf_counter()
            drained = sync(server.dsn, wh, run_id="bench-changes")
            drain_s = time.perf_counter() - started
            assert drained.changes == args.changes, drained

            lags = _lag(server, wh, args.lag_samples, args.poll_interval)
        finally:
            server.stop()

    p50, p99 = _quantile(lags, 0.50), _quantile(lags, 0.99)
    rows = [
        ("snapshot rows", f"{loaded:,}"),
        ("snapshot rows/s", f"{loaded / snapshot_s:,.0f}"),
        ("changes drained", f"{drained.changes:,} in {drained.transactions:,} transactions"),
        ("changes/s", f"{drained.changes / drain_s:,.0f}"),
        ("lag samples", f"{len(lags)} (poll every {args.poll_interval * 1000:.0f} ms)"),
        ("lag p50", f"{p50 * 1000:.0f} ms"),
        ("lag p99", f"{p99 * 1000:.0f} ms (target <= {TARGET_P99_S * 1000:.0f} ms)"),
        ("lag max", f"{max(lags) * 1000:.0f} ms"),
        ("p99 target met", "yes" if p99 <= TARGET_P99_S else "NO"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")


if __name__ == "__main__":
    main()
