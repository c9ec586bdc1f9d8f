"""`profile-assets demo`: the whole platform end to end on the embedded default.

Starts the sandbox (unless one runs), materializes every asset into DuckDB through the real
Dagster instance under $PROFILE_ASSETS_HOME/dagster, prints what landed where, and stops what
it started.
"""

from __future__ import annotations

import os

import pandas as pd
from dagster import DagsterInstance
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from rich.console import Console
from rich.table import Table

from profile_assets import sandbox_process, settings
from profile_assets.instance import prepare_dagster_home

WEB_HISTORY_DAYS = 120
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the UI keeps every event


def run_demo(*, people: int, seed: int, console: Console) -> None:
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home())
    started = sandbox_process.running_state() is None
    try:
        with console.status(f"starting the sandbox ({people:,} people)"):
            state = sandbox_process.start(people, seed)
        _materialize_everything(console, _web_days(state))
        console.print(_warehouse_summary())
    finally:
        if started:
            sandbox_process.stop()
            console.print("sandbox stopped")


def _web_days(state: dict) -> dict[str, str]:
    """Run tags selecting the web-analytics days the sandbox world has (the world's clock is
    fixed, so the range comes from its `as_of`, not from today's date)."""
    as_of = pd.Timestamp(state["as_of"]).tz_convert("America/Los_Angeles").normalize()
    first = as_of - pd.Timedelta(days=WEB_HISTORY_DAYS)
    last = as_of - pd.Timedelta(days=1)
    return {
        ASSET_PARTITION_RANGE_START_TAG: first.strftime("%Y-%m-%d"),
        ASSET_PARTITION_RANGE_END_TAG: last.strftime("%Y-%m-%d"),
    }


def _materialize_everything(console: Console, web_days: dict[str, str]) -> None:
    """Web analytics first (one run over the range), then everything else in one run."""
    from profile_assets.definitions import defs

    instance = DagsterInstance.get()
    for job_name, tags in (("web_analytics_backfill", web_days), ("refresh_profiles", {})):
        with console.status(f"running {job_name}"):
            result = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance, tags=tags, raise_on_error=False, run_config=QUIET
            )
        if not result.success:
            raise SystemExit(f"{job_name} failed; see its run in `profile-assets dev`")
        done = len(result.get_asset_materialization_events())
        console.print(f"[green]✓[/] {job_name} ({done} materializations)")


def _warehouse_summary() -> Table:
    from profile_assets.resources import warehouse_resource

    table = Table(title=f"warehouse ({settings.environment()})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    with warehouse_resource(settings.environment()).connection() as wh:
        names = wh.query_df(
            "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables "
            "WHERE table_schema IN ('raw','staging','identity','profiles','ml','serving','ops') "
            "ORDER BY 1"
        )["name"]
        for name in names:
            table.add_row(name, f"{wh.row_count(name):,}")
    return table
