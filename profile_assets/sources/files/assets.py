"""Dagster edges of the partner file drops: `raw.file_contacts`, `raw.file_orders` and the
sensor that launches them when files appear. The loading logic lives in `loading.py`."""

import hashlib
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    TableColumn,
    TableSchema,
    asset,
    sensor,
)

from profile_assets import settings
from profile_assets.quarantine.rejections import LoadTally
from profile_assets.sources.files.discovery import pending_files
from profile_assets.sources.files.kinds import KINDS, LOAD_COLUMNS, DropKind, raw_name
from profile_assets.sources.files.loading import FileOutcome, load_pending
from profile_assets.warehouse import Warehouse

DROP_SET_TAG = "profile_assets/drop_set"
MAX_ATTEMPTS = 3


def asset_key(kind: DropKind) -> AssetKey:
    return AssetKey(kind.table.split("."))


def column_schema(kind: DropKind) -> TableSchema:
    """The raw table's columns, described from the source mapping they are declared in."""
    declared = [
        TableColumn(
            raw_name(c.name),
            c.type,
            f"'{c.name}' in the files"
            + (f"; unified field {c.maps_to}" if c.maps_to else "")
            + ("; required column" if c.required else ""),
        )
        for c in kind.source_mapping.columns.values()
    ]
    load = [TableColumn(name, type_, text) for name, (type_, text) in LOAD_COLUMNS.items()]
    return TableSchema(columns=declared + load)


def outcome_metadata(outcomes: list[FileOutcome], table_rows: int) -> dict:
    """What a user checks after a run: did every file land, and do the counts balance."""
    total = LoadTally(
        read=sum(o.tally.read for o in outcomes),
        loaded=sum(o.tally.loaded for o in outcomes),
        rejected=[r for o in outcomes for r in o.tally.rejected],
        suppressed=sum(o.tally.suppressed for o in outcomes),
    )
    lines = [
        "| file | status | read | loaded | rejected | format | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        fmt = " ".join(f"{k}={v!r}" for k, v in o.details.items())
        lines.append(
            f"| {o.file} | {o.status} | {o.tally.read} | {o.tally.loaded} "
            f"| {len(o.tally.rejected)} | {fmt} | {_cell(o.reason or '')} |"
        )
    return {
        **total.as_metadata(),
        "files_loaded": sum(o.status == "loaded" for o in outcomes),
        "files_duplicate": sum(o.status == "duplicate" for o in outcomes),
        "files_failed": sum(o.status == "failed" for o in outcomes),
        "files": MetadataValue.md("\n".join(lines) if outcomes else "No new files."),
        "dagster/row_count": table_rows,
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _file_drop_asset(kind: DropKind) -> AssetsDefinition:
    @asset(
        key=asset_key(kind),
        group_name="sources",
        kinds={"python", "csv", "parquet"},
        description=(
            f"Partner {kind.name} delivered as CSV, JSON Lines or Parquet files in "
            f"drop/{kind.name}/: each file loaded once (by content hash, see ops.loaded_files), "
            f"merged on `_source_id` ({kind.id_column}) with the newest file winning, then "
            f"archived; rows that cannot be loaded go to ops.rejected_records with file and "
            f"line, whole files that cannot be parsed to drop/failed/{kind.name}/."
        ),
        metadata={"dagster/column_schema": column_schema(kind)},
    )
    def _load(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        with warehouse.connection() as conn:
            outcomes = load_pending(conn, settings.drop_dir(), kind, run_id=context.run.run_id)
            rows = conn.row_count(kind.table)
        for o in outcomes:
            context.log.info(f"{o.file}: {o.status} {o.tally.as_metadata()} {o.reason or ''}")
        return MaterializeResult(metadata=outcome_metadata(outcomes, rows))

    return _load


file_contacts, file_orders = (_file_drop_asset(kind) for kind in KINDS)
FILE_DROP_ASSETS = [file_contacts, file_orders]


@sensor(
    name="file_drop_sensor",
    target=FILE_DROP_ASSETS,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches raw.file_contacts / raw.file_orders when files wait in drop/.",
)
def file_drop_sensor(context: SensorEvaluationContext) -> RunRequest | SkipReason:
    """One run per distinct set of waiting files, for the kinds that have any. A run that
    failed leaves its files waiting: the same set is retried, up to MAX_ATTEMPTS runs."""
    root = settings.drop_dir()
    waiting = {kind: pending_files(root, kind) for kind in KINDS}
    waiting = {kind: files for kind, files in waiting.items() if files}
    if not waiting:
        return SkipReason(f"no new files in {root}/{{contacts,orders}}/")
    drop_set = _fingerprint(waiting)
    runs = context.instance.get_runs(RunsFilter(tags={DROP_SET_TAG: drop_set}))
    active = [run.run_id for run in runs if not run.is_finished]
    if active:
        return SkipReason(f"run {active[0]} is loading these files")
    if len(runs) >= MAX_ATTEMPTS:
        return SkipReason(f"{len(runs)} runs left these files waiting; see their logs")
    return RunRequest(
        run_key=f"file_drops:{drop_set}:{len(runs)}",
        asset_selection=[asset_key(kind) for kind in waiting],
        tags={DROP_SET_TAG: drop_set},
    )


def _fingerprint(waiting: dict[DropKind, list[Path]]) -> str:
    digest = hashlib.sha256()
    for kind, files in waiting.items():
        for path in files:
            stat = path.stat()
            digest.update(f"{kind.name}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
