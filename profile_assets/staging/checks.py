"""Pandera contracts for every raw and staging table, run as Dagster asset checks.

Policy (also in the README):
- Row-level problems (a malformed amount, a ticket without a requester) never stop the
  pipeline: staging quarantines those rows to `ops.rejected_records` with their reasons. The
  staging *value* checks re-validate what was written against the unified schema and only
  warn (severity WARN, not blocking), so a surprise shows up in the UI without halting.
- Table-level problems fail a *blocking* contract check, which stops every downstream asset
  in the same run (and `all_deps_blocking_checks_passed` keeps automation from running them
  later): a drifted schema, a required column missing, a duplicate or null primary key, or a
  table that is empty although it had rows when last checked.

The blocking contract reads only what it needs (key and required columns, a 1,000-row sample
for drift), so it stays cheap at a million people; the warn-only value check reads the table.
Row counts per check and run are kept in `ops.table_row_counts` ("previously non-empty").
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from profile_assets.contracts.asset_checks import SAMPLE_ROWS, check_result, validate_frame
from profile_assets.contracts.drift import SchemaDriftError
from profile_assets.contracts.schema import source_tables
from profile_assets.privacy.preview import preview_markdown
from profile_assets.staging.extract import extract
from profile_assets.staging.tables import STAGING_TABLES, StagingTable
from profile_assets.staging.value_schemas import value_schema
from profile_assets.warehouse import Warehouse, WarehouseConnection

ROW_COUNTS_TABLE = "ops.table_row_counts"
DRIFT_SAMPLE_ROWS = 1000

#: Every raw table staging reads: one per source mapping in `schemas/sources/`.
RAW_TABLES = tuple(source_tables())
RAW_KEY = ("_source_id",)
RAW_REQUIRED = ("_source_id", "_extracted_at", "_run_id", "_op")


@dataclass(frozen=True)
class TableContract:
    """What a table must satisfy for anything downstream to read it."""

    asset_key: AssetKey
    table: str
    primary_key: tuple[str, ...]
    required: tuple[str, ...]
    nullable_key: tuple[str, ...] = ()
    #: Source mapping to drift-check a sample against (raw tables).
    drift_source: str | None = None

    def schema(self) -> pa.DataFrameSchema:
        """Key unique and present; required columns non-null. Types are the value schema's job."""
        columns = {
            name: pa.Column(nullable=name in self.nullable_key, required=True)
            for name in dict.fromkeys([*self.primary_key, *self.required])
        }
        return pa.DataFrameSchema(
            columns, unique=list(self.primary_key), name=f"{self.table} contract"
        )


def raw_contract(table: str) -> TableContract:
    return TableContract(
        asset_key=AssetKey(["raw", table]),
        table=f"raw.{table}",
        primary_key=RAW_KEY,
        required=RAW_REQUIRED,
        drift_source=table,
    )


def staging_contract(spec: StagingTable) -> TableContract:
    nullable_key = tuple(c for c in spec.primary_key if c not in spec.required)
    return TableContract(
        asset_key=spec.asset_key,
        table=spec.table,
        primary_key=spec.primary_key,
        required=spec.required,
        nullable_key=nullable_key,
    )


# --------------------------------------------------------------------------- contract check
def evaluate_contract(
    conn: WarehouseConnection, contract: TableContract, *, run_id: str
) -> AssetCheckResult:
    """Run `contract` against the warehouse and record the row count for the next run."""
    if not conn.table_exists(contract.table):
        return _failed(contract, reason=f"{contract.table} does not exist")
    present = set(conn.columns(contract.table))
    wanted = list(dict.fromkeys([*contract.primary_key, *contract.required]))
    missing = [c for c in wanted if c not in present]
    if missing:
        return _failed(contract, reason=f"required columns missing: {missing}")
    if contract.drift_source:
        drift = _drift_problems(conn, contract)
        if drift:
            return _failed(contract, reason="schema drift", drift=drift)
    frame = conn.query_df(f"SELECT {', '.join(wanted)} FROM {contract.table}")
    failing_rows, cases = validate_frame(frame, contract.schema())
    previous = previous_row_count(conn, contract.table, run_id=run_id)
    record_row_count(conn, contract.table, len(frame), run_id=run_id)
    emptied = len(frame) == 0 and bool(previous)
    metadata = {
        "rows": len(frame),
        "previous_rows": MetadataValue.int(previous) if previous is not None else None,
        "failing_rows": failing_rows,
        "primary_key": ", ".join(contract.primary_key),
    }
    if emptied:
        metadata["reason"] = f"empty, but had {previous} rows when last checked"
    if failing_rows:
        metadata["failure_sample"] = MetadataValue.md(preview_markdown(cases, SAMPLE_ROWS))
    return AssetCheckResult(
        passed=failing_rows == 0 and not emptied,
        severity=AssetCheckSeverity.ERROR,
        metadata={k: v for k, v in metadata.items() if v is not None},
    )


def _failed(
    contract: TableContract, *, reason: str, drift: list[str] | None = None
) -> AssetCheckResult:
    metadata: dict[str, object] = {"reason": reason}
    if drift:
        metadata["drift"] = MetadataValue.md("\n".join(f"- {p}" for p in drift))
    return AssetCheckResult(passed=False, severity=AssetCheckSeverity.ERROR, metadata=metadata)


def _drift_problems(conn: WarehouseConnection, contract: TableContract) -> list[str]:
    """Drift of a sample, read exactly as staging reads the table (`extract.extract`)."""
    sample = conn.query_df(f"SELECT * FROM {contract.table} LIMIT {DRIFT_SAMPLE_ROWS}")
    try:
        extract(contract.drift_source, sample)
    except SchemaDriftError as error:
        return [str(p) for p in error.problems]
    return []


def previous_row_count(conn: WarehouseConnection, table: str, *, run_id: str) -> int | None:
    """Rows the table had when last checked in another run (None: never checked)."""
    if not conn.table_exists(ROW_COUNTS_TABLE):
        return None
    value = conn.scalar(
        f"SELECT row_count FROM {ROW_COUNTS_TABLE} "
        f"WHERE table_name = '{table}' AND run_id <> '{run_id}' "
        "ORDER BY checked_at DESC LIMIT 1"
    )
    return None if value is None or pd.isna(value) else int(value)


def record_row_count(conn: WarehouseConnection, table: str, rows: int, *, run_id: str) -> None:
    frame = pd.DataFrame(
        {
            "table_name": [table],
            "run_id": [run_id],
            "row_count": [rows],
            "checked_at": [pd.Timestamp.now(tz="UTC")],
        }
    )
    conn.merge_df(frame, ROW_COUNTS_TABLE, ["table_name", "run_id"])


def contract_check(contract: TableContract) -> AssetChecksDefinition:
    """The blocking table-level check of one asset."""

    @asset_check(
        asset=contract.asset_key,
        name="table_contract",
        blocking=True,
        description=(
            f"Blocking: {contract.table} has its required columns"
            + (", fits its source mapping (no drift)" if contract.drift_source else "")
            + f", a unique non-null key ({', '.join(contract.primary_key)}), and is not "
            "empty when it had rows before."
        ),
    )
    def _check(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
        with warehouse.connection() as conn:
            return evaluate_contract(conn, contract, run_id=context.run.run_id)

    return _check


# --------------------------------------------------------------------------- value check
def read_for_validation(conn: WarehouseConnection, table: str) -> pd.DataFrame:
    """The table as pandas, with time zones spelled as the schema expects (Etc/UTC -> UTC)."""
    frame = conn.query_df(f"SELECT * FROM {table}")
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC")
    return frame


def value_check(spec: StagingTable) -> AssetChecksDefinition:
    """The non-blocking row-level Pandera check of one staging asset."""

    @asset_check(
        asset=spec.asset_key,
        name="pandera_values",
        blocking=False,
        description=(
            f"Warns when rows of {spec.table} break the unified schema's value rules "
            "(staging quarantines such rows, so a failure here means a transform bug)."
        ),
    )
    def _check(warehouse: Warehouse) -> AssetCheckResult:
        with warehouse.connection() as conn:
            frame = read_for_validation(conn, spec.table)
        return check_result(frame, value_schema(spec), blocking=False)

    return _check


# --------------------------------------------------------------------------- the lists
def raw_checks(tables: Sequence[str] = RAW_TABLES) -> list[AssetChecksDefinition]:
    return [contract_check(raw_contract(t)) for t in tables]


def staging_checks() -> list[AssetChecksDefinition]:
    return [
        check
        for spec in STAGING_TABLES
        for check in (contract_check(staging_contract(spec)), value_check(spec))
    ]


RAW_CHECKS = raw_checks()
STAGING_CHECKS = staging_checks()
