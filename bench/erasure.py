"""Cost of one erasure, and of compacting the DuckDB file after it, on a sandbox world.

    .venv/bin/python bench/erasure.py --people 2000

Seeds the world's raw tables as the loaders store them, runs staging, identity and golden
profiles, then erases one multi-record person: the warehouse transaction (registry links,
value sweep, suppression, audit) and the compaction (CHECKPOINT + copy-and-swap of the file)
are timed apart, with the file size before and after.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=2000)
    args = parser.parse_args()

    from dagster import materialize

    from profile_assets.identity.assets import IDENTITY_ASSETS
    from profile_assets.identity.ground_truth import GroundTruth
    from profile_assets.profiles.assets import PROFILE_ASSETS
    from profile_assets.profiles.erasure import erase
    from profile_assets.sandbox.world import generate_world
    from profile_assets.staging.assets import STAGING_ASSETS
    from profile_assets.warehouse import DuckDBWarehouse
    from profile_assets_tests.staging_support import seed_raw

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "warehouse.duckdb"
        warehouse = DuckDBWarehouse(path=str(path))
        world = generate_world(args.people)
        with warehouse.connection() as conn:
            seed_raw(conn, world)
        materialize(
            [*STAGING_ASSETS, *IDENTITY_ASSETS, *PROFILE_ASSETS],
            resources={"warehouse": warehouse, "ground_truth": GroundTruth()},
            run_config={
                "ops": {"profiles__golden_profiles": {"config": {"as_of": world.as_of.isoformat()}}}
            },
        )
        with warehouse.connection() as conn:
            email = conn.scalar(
                "SELECT email FROM profiles.golden_profiles WHERE record_count >= 3 "
                "AND email IS NOT NULL ORDER BY profile_id LIMIT 1"
            )
            size_before = path.stat().st_size
            started = time.perf_counter()
            report = erase(conn, email, run_id="bench", tags={})
            erase_s = time.perf_counter() - started
        compact_s = warehouse.compact()
        print(
            json.dumps(
                {
                    "people": args.people,
                    "rows_deleted": sum(report.rows_deleted.values()),
                    "tables": len(report.rows_deleted),
                    "erase_s": round(erase_s, 2),
                    "compact_s": round(compact_s, 2),
                    "file_mb_before": round(size_before / 2**20, 1),
                    "file_mb_after": round(path.stat().st_size / 2**20, 1),
                }
            )
        )


if __name__ == "__main__":
    main()
