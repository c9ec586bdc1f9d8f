"""Dagster edges of storefront change data capture: the five `raw.storefront_*` assets and the
sensor that launches them when the replication slot holds changes.

One `sync` fills all five tables from one slot in one warehouse transaction per batch, so they
are one multi-asset. The consumer logic lives in `consumer.py`, the slot in `slot.py`.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    DefaultSensorStatus,
    MaterializeResult,
    RetryPolicy,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    TableColumn,
    TableSchema,
    multi_asset,
    sensor,
)

from profile_assets.quarantine.rejections import LOAD_COLUMNS
from profile_assets.sources.cdc.consumer import sync
from profile_assets.sources.cdc.pgoutput import int_to_lsn
from profile_assets.sources.cdc.slot import advance_idle_slot, slot_status
from profile_assets.sources.cdc.tables import ReplicatedTable, replicated_tables
from profile_assets.sources.resources import StorefrontResource
from profile_assets.warehouse import Warehouse

META_COLUMNS = {
    **LOAD_COLUMNS,
    "_lsn": ("integer", "commit LSN of the source transaction; newer LSNs win"),
}


def asset_key(table: ReplicatedTable) -> AssetKey:
    return AssetKey(table.raw_table.split("."))


def _spec(table: ReplicatedTable) -> AssetSpec:
    columns = [TableColumn(name, pg_type) for name, pg_type in table.columns]
    columns += [TableColumn(name, type_, text) for name, (type_, text) in META_COLUMNS.items()]
    return AssetSpec(
        key=asset_key(table),
        description=(
            f"The storefront's `{table.name}` table, replicated by log-based CDC (a logical "
            "replication slot, pgoutput): an initial consistent snapshot, then every insert, "
            "update and delete as LSN-guarded upserts and tombstones."
        ),
        group_name="sources",
        kinds={"postgres", "duckdb"},
        metadata={
            "dagster/column_schema": TableSchema(columns=columns),
            "dagster/table_name": table.raw_table,
        },
    )


@multi_asset(
    specs=[_spec(table) for table in replicated_tables()],
    name="storefront_cdc",
    retry_policy=RetryPolicy(max_retries=3, delay=5),
    description="Apply the storefront's pending changes (or its first snapshot) to raw.",
)
def storefront_cdc(
    context: AssetExecutionContext, warehouse: Warehouse, storefront: StorefrontResource
):
    """Exactly once in effect: the slot advances only after the warehouse commit."""
    dsn = storefront.setting("dsn")
    with warehouse.connection() as conn:
        result = sync(dsn, conn, run_id=context.run_id, slot=storefront.slot_name)
        totals = {t.raw_table: conn.row_count(t.raw_table) for t in replicated_tables()}
    lsn = int_to_lsn(result.lsn) if result.lsn is not None else None
    for table in replicated_tables():
        name = table.raw_table
        yield MaterializeResult(
            asset_key=asset_key(table),
            metadata={
                "rows_applied": result.rows_by_table.get(name, 0),
                "suppressed_on_arrival": result.suppressed_by_table.get(name, 0),
                "dagster/row_count": totals[name],
                "snapshot_rows": result.snapshot_rows,
                "source_transactions": result.transactions,
                "lsn": lsn or "",
            },
        )


@sensor(
    name="storefront_cdc_sensor",
    target=[asset_key(t) for t in replicated_tables()],
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches storefront CDC when the slot holds changes; heartbeats when idle.",
)
def storefront_cdc_sensor(
    context: SensorEvaluationContext, storefront: StorefrontResource
) -> RunRequest | SkipReason:
    """Checking the slot is cheap (a peek); when nothing waits, the heartbeat advances the slot
    over empty transactions so an idle platform never makes Postgres hold WAL without bound."""
    dsn = storefront.setting("dsn", required=False)
    if dsn is None:
        return SkipReason("no STOREFRONT_DSN and no sandbox running")
    status = slot_status(dsn, slot=storefront.slot_name)
    if status.needs_run:
        return RunRequest(run_key=f"cdc:{status.confirmed_flush_lsn}:{status.pending_changes}")
    if not status.busy:
        advance_idle_slot(dsn, slot=storefront.slot_name)
    return SkipReason(f"no pending changes (retained WAL: {status.retained_wal_bytes} bytes)")


CDC_ASSETS = [storefront_cdc]
