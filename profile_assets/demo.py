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

from profile_assets import settings
from profile_assets.instance import prepare_dagster_home
from profile_assets.sandbox import process as sandbox_process

WEB_HISTORY_DAYS = 120
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}  # the UI keeps every event


def run_demo(*, people: int, seed: int, console: Console) -> None:
    os.environ["PROFILE_ASSETS_ENV"] = "sandbox"  # the demo is the platform on its simulator
    started = sandbox_process.running_state() is None
    if started:  # a clean home every time: no cursor or ledger of an earlier world survives
        sandbox_process.reset_home()
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home())
    try:
        with console.status(f"starting the sandbox ({people:,} people)"):
            state = sandbox_process.start(people, seed)
        results = _materialize_everything(console, state)
        console.print(_warehouse_summary())
        console.print(_identity_quality(results["refresh_profiles"]))
        console.print(_richest_profile())
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


def _materialize_everything(console: Console, state: dict) -> dict:
    """Web analytics first (one run over the range), then everything else in one run. The
    golden profile's derived fields ("sessions in the last 30 days") are computed as of the
    sandbox world's clock, which stopped at its `as_of`."""
    from profile_assets.definitions import defs

    instance = DagsterInstance.get()
    world_clock = {"ops": {"profiles__golden_profiles": {"config": {"as_of": state["as_of"]}}}}
    plan = (
        ("web_analytics_backfill", _web_days(state), QUIET),
        ("refresh_profiles", {}, {**QUIET, **world_clock}),
    )
    results = {}
    for job_name, tags, run_config in plan:
        with console.status(f"running {job_name}"):
            result = defs.resolve_job_def(job_name).execute_in_process(
                instance=instance, tags=tags, raise_on_error=False, run_config=run_config
            )
        if not result.success:
            raise SystemExit(f"{job_name} failed; see its run in `profile-assets dev`")
        done = len(result.get_asset_materialization_events())
        console.print(f"[green]✓[/] {job_name} ({done} materializations)")
        results[job_name] = result
    return results


def _identity_quality(result) -> str:
    """Match quality as the identity asset reported it (scored against the sandbox's ground
    truth, which only this report reads, never the matching)."""
    meta = result.asset_materializations_for_node("identity_resolution")[0].metadata
    values = {key: entry.value for key, entry in meta.items()}
    if "pairwise_precision" not in values:
        return "identity: no ground truth to score against"
    return (
        f"identity: {values.get('records', '?'):,} records -> {values.get('profiles', '?'):,} "
        f"profiles; pairwise precision {values['pairwise_precision']:.3f}, "
        f"recall {values['pairwise_recall']:.3f} against the sandbox's ground truth"
    )


def _richest_profile() -> Table:
    """A buyer's golden profile assembled from the most source records, with provenance."""
    from profile_assets.warehouse import warehouse_resource

    with warehouse_resource(settings.environment()).connection() as wh:
        profile = wh.query_df(
            "SELECT * FROM profiles.golden_profiles "
            "ORDER BY orders_count > 0 DESC, record_count DESC, profile_id LIMIT 1"
        ).iloc[0]
    table = Table(title=f"golden profile {profile['profile_id']}")
    table.add_column("field")
    table.add_column("value")
    table.add_column("from")
    for field, provenance in PROFILE_FIELDS:
        source = profile.get(f"provenance_{provenance}_source", "") if provenance else "derived"
        table.add_row(field, str(profile[field]), str(source or ""))
    return table


PROFILE_FIELDS = (
    ("full_name", "name"),
    ("email", "email"),
    ("phone", "phone"),
    ("city", "address"),
    ("country", "address"),
    ("sources", None),
    ("orders_count", None),
    ("total_spend", None),
    ("engagement_score", None),
    ("rfm_segment", None),
    ("job_title", "enrichment"),
    ("age_range", "enrichment"),
)


def _warehouse_summary() -> Table:
    from profile_assets.warehouse import warehouse_resource

    table = Table(title=f"warehouse ({settings.environment()})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    with warehouse_resource(settings.environment()).connection() as wh:
        schemas = ", ".join(f"'{schema}'" for schema in settings.WAREHOUSE_SCHEMAS)
        names = wh.query_df(
            "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables "
            f"WHERE table_schema IN ({schemas}) ORDER BY 1"
        )["name"]
        for name in names:
            table.add_row(name, f"{wh.row_count(name):,}")
    return table
