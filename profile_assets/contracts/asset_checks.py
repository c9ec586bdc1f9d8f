"""Pandera schemas run as Dagster asset checks, so the UI shows data quality per asset.

There is no built-in pandera-to-asset-check bridge in Dagster 1.13 (dagster_pandera's type
check fails the whole step), so this module is that bridge: it validates lazily, reports how
many rows fail and a small sample of failures, and lets the caller decide whether the check
blocks downstream assets (table-level contracts) or only warns (row-level problems, which the
assets quarantine themselves).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pandera.pandas as pa
from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from profile_assets.privacy.preview import preview_markdown
from profile_assets.warehouse import Warehouse

SAMPLE_ROWS = 10


def validate_frame(df: pd.DataFrame, schema: pa.DataFrameSchema) -> tuple[int, pd.DataFrame]:
    """Return (number of failing rows, failure cases) without raising."""
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        failing_rows = int(cases["index"].dropna().nunique())
        # A table-level failure (missing column, wrong dtype) has no row index: count it once.
        return max(failing_rows, 1), cases
    return 0, pd.DataFrame()


def check_result(
    df: pd.DataFrame, schema: pa.DataFrameSchema, *, blocking: bool
) -> AssetCheckResult:
    failing_rows, cases = validate_frame(df, schema)
    metadata = {
        "rows_checked": len(df),
        "failing_rows": failing_rows,
        "schema": schema.name or "",
    }
    if failing_rows:
        metadata["failure_sample"] = MetadataValue.md(preview_markdown(cases, SAMPLE_ROWS))
    return AssetCheckResult(
        passed=failing_rows == 0,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata=metadata,
    )


def pandera_table_check(
    asset_key: AssetKey | str,
    table: str,
    schema: pa.DataFrameSchema | Callable[[], pa.DataFrameSchema],
    *,
    blocking: bool,
    description: str | None = None,
) -> AssetChecksDefinition:
    """An asset check validating the warehouse `table` behind `asset_key` with `schema`."""
    key = AssetKey.from_user_string(asset_key) if isinstance(asset_key, str) else asset_key

    @asset_check(
        asset=key,
        name=f"pandera_{key.path[-1]}",
        blocking=blocking,
        description=description or f"Pandera contract for {table}",
    )
    def _check(warehouse: Warehouse) -> AssetCheckResult:
        resolved = schema() if callable(schema) else schema
        with warehouse.connection() as conn:
            df = conn.query_df(f"SELECT * FROM {table}")
        return check_result(df, resolved, blocking=blocking)

    return _check
