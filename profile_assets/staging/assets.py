"""Staging assets (group `staging`, warehouse schema `staging`): thin Dagster wrappers.

Each asset reads the latest version of every raw row it needs, calls its pure transform
(`contacts`, `orders`, `activity`), quarantines refused rows, swaps its staging table's rows
atomically, and reports what a user looks for: rows, rejects, skips, drift, schema version,
a preview. A drifted source fails the asset (`SchemaDriftError` -> `Failure`) before anything
is written; a refused row never does (see the policy in `checks.py`).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from profile_assets.contracts.drift import SchemaDriftError
from profile_assets.contracts.personal_data import registry
from profile_assets.privacy.preview import preview_markdown
from profile_assets.privacy.suppression import Suppressions
from profile_assets.quarantine.rejections import quarantine, without_suppressed
from profile_assets.staging.activity import stage_carts, stage_tickets, stage_web_activity
from profile_assets.staging.contacts import PERSON_SOURCES, stage_contacts
from profile_assets.staging.extract import Staged, schema_version
from profile_assets.staging.orders import ORDER_SOURCES, stage_orders
from profile_assets.staging.tables import (
    CARTS,
    CONTACTS,
    ORDERS,
    TICKETS,
    WEB_ACTIVITY,
    StagingTable,
)
from profile_assets.warehouse import Warehouse, WarehouseConnection

GROUP = "staging"
PREVIEW_ROWS = 5

Stage = Callable[[Mapping[str, pd.DataFrame], pd.Timestamp], Staged]


@dataclass(frozen=True)
class StagingStep:
    """One staging table: the raw tables it reads and the transform that builds it."""

    table: StagingTable
    sources: tuple[str, ...]
    stage: Stage
    #: A union of sources (contacts, orders) is built from whichever were ever loaded;
    #: the others need every input.
    any_subset: bool = False


STEPS = (
    StagingStep(
        CONTACTS,
        PERSON_SOURCES,
        lambda raws, now: stage_contacts(raws, now=now),
        any_subset=True,
    ),
    StagingStep(
        ORDERS,
        ORDER_SOURCES,
        lambda raws, now: stage_orders(raws, now=now),
        any_subset=True,
    ),
    StagingStep(
        WEB_ACTIVITY,
        ("web_user_days",),
        lambda raws, now: stage_web_activity(raws["web_user_days"], now=now),
    ),
    StagingStep(
        TICKETS,
        ("support_tickets",),
        lambda raws, now: stage_tickets(raws["support_tickets"], now=now),
    ),
    StagingStep(
        CARTS,
        ("storefront_carts", "storefront_cart_items", "storefront_orders"),
        lambda raws, now: stage_carts(
            raws["storefront_carts"],
            raws["storefront_cart_items"],
            raws["storefront_orders"],
            now=now,
        ),
    ),
)


def raw_key(table: str) -> AssetKey:
    return AssetKey(["raw", table])


def read_raw(conn: WarehouseConnection, table: str) -> pd.DataFrame | None:
    """The newest version of each raw row (None: the table was never loaded).

    Raw loaders already merge on `_source_id`; ranking again costs little and keeps staging
    right for any loader that appends versions instead.
    """
    name = f"raw.{table}"
    if not conn.table_exists(name):
        return None
    order = "_extracted_at DESC"
    if "_lsn" in conn.columns(name):
        order += ", _lsn DESC"
    return conn.query_df(
        f"SELECT * FROM {name} "
        f"QUALIFY ROW_NUMBER() OVER (PARTITION BY _source_id ORDER BY {order}) = 1"
    )


def run_step(
    conn: WarehouseConnection, step: StagingStep, *, run_id: str, now: pd.Timestamp
) -> tuple[Staged, list[str]]:
    """Read, transform and publish one staging table; returns it and the raw tables missing."""
    raws = {t: df for t in step.sources if (df := read_raw(conn, t)) is not None}
    missing = [t for t in step.sources if t not in raws]
    if not raws or (missing and not step.any_subset):
        # Partial sources are normal (a retailer without web analytics, a source not loaded
        # yet): the table exists, empty, and the metadata says which inputs are missing.
        staged = Staged(frame=step.table.empty())
        with conn.unit_of_work() as unit:
            unit.replace(staged.frame, step.table.table, exact_columns=True)
        return staged, missing
    try:
        staged = step.stage(raws, now)
    except SchemaDriftError as error:
        raise Failure(
            description=str(error),
            metadata={
                "source": error.source,
                "schema_version": error.schema_version,
                "problems": MetadataValue.md("\n".join(f"- {p}" for p in error.problems)),
            },
        ) from error
    staged = without_erased(conn, step.table, staged)
    # Readers see the old rows or the new ones, never a mix; a changed column set reshapes it.
    with conn.unit_of_work() as unit:
        quarantine(unit, staged.rejections, run_id=run_id)
        unit.replace(staged.frame, step.table.table, exact_columns=True)
    return staged, missing


def without_erased(conn: WarehouseConnection, table: StagingTable, staged: Staged) -> Staged:
    """Erased people stay erased, in every staging table: their contacts, orders, tickets,
    carts and web days (by the personal-data registry's links), should raw still hold any,
    never reach staging (counted as skipped, never quarantined: that would keep the very
    personal data the erasure removed)."""
    suppressions = Suppressions.load(conn)
    if not suppressions:
        return staged
    kept, erased = registry().arrival(table.table).drop(staged.frame, suppressions)
    rejections, refused = without_suppressed(staged.rejections, suppressions)
    if not erased + refused:
        return staged
    skipped = {**staged.skipped, "erased_person_suppressed": erased + refused}
    return replace(staged, frame=kept, rejections=rejections, skipped=skipped)


def result_metadata(staged: Staged, missing: list[str]) -> dict[str, object]:
    meta = staged.metadata()
    return {
        "dagster/row_count": meta["rows"],
        "raw_rows_read": meta["raw_rows_read"],
        "rejected_rows": meta["rejected"],
        "skipped_rows": MetadataValue.json(meta["skipped"]),
        "suppressed_on_arrival": meta["skipped"].get("erased_person_suppressed", 0),
        "added_source_columns": MetadataValue.json(meta["added_columns"]),
        "schema_version": schema_version(),
        "source_mappings": MetadataValue.json(meta["schema_versions"]),
        "missing_raw_tables": MetadataValue.json(missing),
        "preview": MetadataValue.md(preview_markdown(staged.frame, PREVIEW_ROWS)),
    }


def staging_asset(step: StagingStep) -> AssetsDefinition:
    spec = step.table

    @asset(
        key=spec.asset_key,
        deps=[raw_key(t) for t in step.sources],
        group_name=GROUP,
        description=spec.description,
        kinds={"pandas", "pandera"},
        metadata={
            "dagster/column_schema": spec.table_schema(),
            "dagster/table_name": spec.table,
            "primary_key": ", ".join(spec.primary_key),
        },
    )
    def _asset(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        with warehouse.connection() as conn:
            staged, missing = run_step(
                conn, step, run_id=context.run.run_id, now=pd.Timestamp.now(tz="UTC")
            )
        if missing:
            context.log.warning(
                f"{spec.table}: raw tables never loaded: {', '.join(missing)}"
                + ("" if len(staged.frame) else "; the table is empty until they are")
            )
        if staged.rejections:
            context.log.warning(
                f"{spec.table}: {len(staged.rejections)} rows quarantined to ops.rejected_records"
            )
        return MaterializeResult(metadata=result_metadata(staged, missing))

    return _asset


STAGING_ASSETS = [staging_asset(step) for step in STEPS]
