"""`profile-assets demo`: the whole platform end to end on the embedded default.

Starts the sandbox (unless one runs), materializes every asset into DuckDB through the real
Dagster instance under $PROFILE_ASSETS_HOME/dagster, prints what landed where, and stops what
it started.
"""

from __future__ import annotations

import os

from dagster import DagsterInstance
from rich.console import Console
from rich.table import Table

from profile_assets import sandbox_process, settings
from profile_assets.instance import prepare_dagster_home


def run_demo(*, people: int, seed: int, console: Console) -> None:
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home())
    started = sandbox_process.running_state() is None
    try:
        with console.status(f"starting the sandbox ({people:,} people)"):
            sandbox_process.start(people, seed)
        _materialize_everything(console)
        console.print(_warehouse_summary())
    finally:
        if started:
            sandbox_process.stop()
            console.print("sandbox stopped")


def _materialize_everything(console: Console) -> None:
    from profile_assets.definitions import defs

    instance = DagsterInstance.get()
    for job_name in DEMO_JOBS:
        with console.status(f"running {job_name}"):
            result = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance, tags=DEMO_JOBS[job_name]
            )
        if not result.success:
            raise SystemExit(f"{job_name} failed; see the run in `profile-assets dev`")
        console.print(f"[green]✓[/] {job_name}")


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


# Job name -> run tags. Filled by definitions as layers land.
DEMO_JOBS: dict[str, dict[str, str]] = {}
