"""Staging throughput (raw records/s) and peak memory on a sandbox world.

    .venv/bin/python bench/staging.py --people 1000000

Two child processes, so each peak RSS is its own:
1. seed: generate the world and write its raw tables into a fresh DuckDB file, shaped as the
   loaders store them (`profile_assets_tests.staging_support`); not timed as staging;
2. stage: every staging step exactly as the assets run it (`assets.run_step`: read the latest
   raw rows with SQL, transform vectorized, replace the staging table, quarantine rejects),
   then the staging checks and the derived fields per source record, each timed.

Records/s counts raw rows read per wall-clock second of the step, reading and writing
included; `cpu_s` is the process's CPU time (DuckDB's threads included), which on a shared
machine says more than the wall clock about the work itself.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def seed(people: int, path: str) -> dict:
    sys.path.insert(0, str(ROOT))  # the loaders' raw shapes live with the tests

    from profile_assets.sandbox.world import generate_world
    from profile_assets.warehouse import DuckDBWarehouse
    from profile_assets_tests.staging_support import seed_raw

    started = time.perf_counter()
    world = generate_world(people)
    with DuckDBWarehouse(path=path).connection() as conn:
        raw_rows = seed_raw(conn, world)
    return {
        "raw_rows": raw_rows,
        "as_of": str(world.as_of),
        "seed_s": round(time.perf_counter() - started, 1),
    }


def stage(path: str, as_of: str) -> dict:
    import pandas as pd

    from profile_assets.contracts.asset_checks import validate_frame
    from profile_assets.features import derived
    from profile_assets.staging.assets import STEPS, run_step
    from profile_assets.staging.checks import (
        evaluate_contract,
        read_for_validation,
        staging_contract,
    )
    from profile_assets.staging.value_schemas import value_schema
    from profile_assets.warehouse import DuckDBWarehouse

    now = pd.Timestamp(as_of)
    steps, checks = {}, {}
    with DuckDBWarehouse(path=path).connection() as conn:
        for step in STEPS:
            started, cpu = time.perf_counter(), time.process_time()
            staged, _ = run_step(conn, step, run_id="bench", now=now)
            seconds = time.perf_counter() - started
            steps[step.table.name] = {
                "raw_rows": staged.read,
                "rows": len(staged.frame),
                "rejected": len(staged.rejections),
                "seconds": round(seconds, 2),
                "cpu_s": round(time.process_time() - cpu, 2),
                "records_per_s": round(staged.read / seconds),
            }
        staging_peak = _peak_gib()
        for step in STEPS:
            started = time.perf_counter()
            evaluate_contract(conn, staging_contract(step.table), run_id="bench")
            contract_s = time.perf_counter() - started
            frame = read_for_validation(conn, step.table.table)
            validate_frame(frame, value_schema(step.table))
            checks[step.table.name] = {
                "contract_s": round(contract_s, 2),
                "values_s": round(time.perf_counter() - started - contract_s, 2),
            }
        activity = derived.Activity(
            orders=conn.query_df("SELECT * FROM staging.orders"),
            web_activity=conn.query_df("SELECT * FROM staging.web_activity"),
            tickets=conn.query_df("SELECT * FROM staging.tickets"),
            carts=conn.query_df("SELECT * FROM staging.carts"),
        )
        records = conn.query_df("SELECT source, source_record_id FROM staging.contacts")
    started = time.perf_counter()
    fields = derived.derive_fields(activity, now, entity_map=records)
    derived_s = time.perf_counter() - started
    total_rows = sum(s["raw_rows"] for s in steps.values())
    total_s = sum(s["seconds"] for s in steps.values())
    total_cpu = sum(s["cpu_s"] for s in steps.values())
    return {
        "steps": steps,
        "total": {
            "raw_rows": total_rows,
            "seconds": round(total_s, 1),
            "cpu_s": round(total_cpu, 1),
            "records_per_s": round(total_rows / total_s),
        },
        "staging_peak_rss_gib": round(staging_peak, 2),
        "checks": checks,
        "derived": {"records": len(fields), "seconds": round(derived_s, 1)},
        "peak_rss_gib": round(_peak_gib(), 2),
    }


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, stdout=subprocess.PIPE, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=["seed", "stage"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "seed":
        print(json.dumps(seed(args.people, args.path)))
        return
    if args.phase == "stage":
        print(json.dumps(stage(args.path, args.as_of)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.duckdb")
        seeded = _child("--phase", "seed", "--people", str(args.people), "--path", path)
        result = _child("--phase", "stage", "--path", path, "--as-of", seeded["as_of"])
    print(json.dumps({"people": args.people, **seeded, **result}, indent=2))


if __name__ == "__main__":
    main()
