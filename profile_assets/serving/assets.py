"""The serving asset (group `serving`): `serving/profile_snapshot`, the published snapshot.

Thin: read the warehouse (inputs.py), build records (record.py), publish (snapshot.py),
report. The warehouse connection stays open until the publish is done: on DuckDB that holds
the file lock, so an erasure cannot slip in between the read and the swap and be undone by
it. Metadata never holds a real name or address: the sample record is masked.
"""

import time
from pathlib import Path

import orjson
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field

from profile_assets.profiles.assets import GOLDEN_KEY
from profile_assets.serving.inputs import read_inputs
from profile_assets.serving.record import build_snapshot_frames, masked
from profile_assets.serving.snapshot import content, current_path, publish, serving_dir
from profile_assets.warehouse import Warehouse

GROUP = "serving"
SNAPSHOT_KEY = AssetKey(["serving", "profile_snapshot"])


class SnapshotConfig(Config):
    full_rebuild: bool = Field(
        default=False, description="Build a new file and swap it in instead of upserting."
    )
    directory: str = Field(
        default="", description="Serving dir (empty: $PROFILE_ASSETS_HOME/serving)."
    )


def _directory(config: SnapshotConfig) -> Path:
    return Path(config.directory) if config.directory else serving_dir()


@asset(
    key=SNAPSHOT_KEY,
    deps=[GOLDEN_KEY],
    group_name=GROUP,
    kinds={"sqlite"},
    description=(
        "One flat record per deliverable profile (golden, derived, scores, recent activity, "
        "consent) in a SQLite snapshot, keyed by profile id and every canonical email; swapped "
        "in atomically, or upserted in place when a snapshot is live."
    ),
)
def profile_snapshot(
    context: AssetExecutionContext, config: SnapshotConfig, warehouse: Warehouse
) -> MaterializeResult:
    started = time.perf_counter()
    with warehouse.connection() as conn:
        inputs = read_inputs(conn)
        frames = build_snapshot_frames(inputs)
        as_of = inputs.golden["as_of"].max() if len(inputs.golden) else None
        report = publish(
            frames,
            _directory(config),
            meta={"as_of": str(as_of), "run_id": context.run.run_id},
            full_rebuild=config.full_rebuild,
        )
    context.log.info(f"{report.mode} publish: {report.upserted} written, {report.deleted} deleted")
    sample = masked(orjson.loads(frames.records["record"].iloc[0])) if len(frames.records) else {}
    return MaterializeResult(
        metadata={
            "dagster/row_count": report.profiles,
            "profiles": report.profiles,
            "lookup_keys": len(frames.keys),
            "withheld_profiles": len(inputs.golden) - report.profiles,
            "mode": report.mode,
            "profiles_written": report.upserted,
            "profiles_deleted": report.deleted,
            "generation": report.generation,
            "size_bytes": report.size_bytes,
            "build_seconds": round(time.perf_counter() - started, 3),
            "file": MetadataValue.path(str(report.path)),
            "sample_record_masked": MetadataValue.json(sample),
        }
    )


@asset_check(
    asset=SNAPSHOT_KEY,
    name="snapshot_serves_only_deliverable_profiles",
    description="Every key points to a record, and no withheld profile is in the snapshot.",
)
def snapshot_check(config: SnapshotConfig, warehouse: Warehouse) -> AssetCheckResult:
    path = current_path(_directory(config))
    if path is None:
        return AssetCheckResult(passed=False, metadata={"reason": "no snapshot published"})
    with warehouse.connection() as conn:
        expected = build_snapshot_frames(read_inputs(conn))
    live = content(path)
    extra = sorted(set(live["records"]) - set(expected.records["profile_id"]))
    dangling = sum(1 for pid in live["keys"].values() if pid not in live["records"])
    return AssetCheckResult(
        passed=not extra and not dangling,
        metadata={
            "profiles": len(live["records"]),
            "withheld_but_served": len(extra),
            "dangling_keys": dangling,
        },  # fmt: skip
    )


SERVING_ASSETS = [profile_snapshot]
SERVING_CHECKS = [snapshot_check]
