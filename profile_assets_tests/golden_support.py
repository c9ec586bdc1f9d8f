"""A staged warehouse for identity/profile asset tests, built once per session and copied.

Raw tables come from the session's sandbox world (staging_support), staging is materialized
by the real staging assets; each test module then works on its own copy of that DuckDB file,
so modules can change data without seeing each other.
"""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import pandas as pd
from dagster import materialize

from profile_assets import settings
from profile_assets.identity.assets import IDENTITY_ASSETS, IDENTITY_CHECKS
from profile_assets.identity.ground_truth import GroundTruth
from profile_assets.profiles.assets import PROFILE_ASSETS, PROFILE_CHECKS
from profile_assets.staging.assets import STAGING_ASSETS
from profile_assets.warehouse import DuckDBWarehouse
from profile_assets_tests.staging_support import seed_raw, staging_world

ASSETS = [*IDENTITY_ASSETS, *PROFILE_ASSETS]
CHECKS = [*IDENTITY_CHECKS, *PROFILE_CHECKS]


def as_of() -> str:
    """The world's clock: derived fields are computed as of it, so runs are comparable."""
    return staging_world().as_of.isoformat()


@cache
def _template(directory: str) -> Path:
    path = Path(directory) / "staged.duckdb"
    warehouse = DuckDBWarehouse(path=str(path))
    with warehouse.connection() as conn:
        seed_raw(conn, staging_world())
    materialize(STAGING_ASSETS, resources={"warehouse": warehouse})
    return path


def staged_warehouse(tmp_path_factory, name: str) -> DuckDBWarehouse:
    """A fresh copy of the session's staged warehouse (raw + staging, nothing after)."""
    template = _template(str(tmp_path_factory.getbasetemp() / "staged_template"))
    target = tmp_path_factory.mktemp(name) / "warehouse.duckdb"
    shutil.copy(template, target)
    return DuckDBWarehouse(path=str(target))


def run_pipeline(
    warehouse: DuckDBWarehouse,
    *,
    identity: dict | None = None,
    golden: dict | None = None,
    tags: dict | None = None,
    checks: bool = False,
):
    """Identity -> golden -> history in one in-process run (with their checks if asked:
    they cost as much as the assets at this size)."""
    run_config = {
        "ops": {
            "identity_resolution": {"config": identity or {}},
            "profiles__golden_profiles": {"config": {"as_of": as_of(), **(golden or {})}},
        }
    }
    return materialize(
        [*ASSETS, *(CHECKS if checks else [])],
        resources={"warehouse": warehouse, "ground_truth": sandbox_ground_truth()},
        run_config=run_config,
        tags=tags or {},
    )


def sandbox_ground_truth() -> GroundTruth:
    """The ground truth the `sandbox` environment would score against (if the test wrote one)."""
    return GroundTruth(records_path=str(settings.sandbox_truth_records_path()))


def query(warehouse: DuckDBWarehouse, sql: str) -> pd.DataFrame:
    with warehouse.connection() as conn:
        return conn.query_df(sql)


def execute(warehouse: DuckDBWarehouse, sql: str, params: list | None = None) -> None:
    with warehouse.connection() as conn:
        conn.execute(sql, params)


def metadata(result, asset_path: str) -> dict:
    """Materialization metadata values of one asset ("identity/identity_map") in a run."""
    for event in result.get_asset_materialization_events():
        if event.asset_key.to_user_string() == asset_path:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    raise KeyError(asset_path)


def failed_checks(result) -> dict:
    return {
        (e.asset_key.to_user_string(), e.check_name): e.metadata
        for e in result.get_asset_check_evaluations()
        if not e.passed
    }
