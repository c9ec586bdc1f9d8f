"""A served world for the serving tests: the session's staged warehouse, resolved and golden,
read once per session into ServingInputs; each test publishes into its own directory."""

from __future__ import annotations

import shutil

import orjson

from profile_assets.serving.inputs import read_inputs
from profile_assets.serving.record import ServingInputs, build_snapshot_frames
from profile_assets.warehouse import DuckDBWarehouse
from profile_assets_tests.golden_support import run_pipeline, staged_warehouse


def built_warehouse(tmp_path_factory) -> DuckDBWarehouse:
    """A fresh copy of the session's golden-profile warehouse."""
    template = tmp_path_factory.getbasetemp() / "serving_template" / "warehouse.duckdb"
    if not template.exists():
        warehouse = staged_warehouse(tmp_path_factory, "serving_build")
        run_pipeline(warehouse)
        template.parent.mkdir(exist_ok=True)
        shutil.copy(warehouse.path, template)
    target = tmp_path_factory.mktemp("serving_wh") / "warehouse.duckdb"
    shutil.copy(template, target)
    return DuckDBWarehouse(path=str(target))


def inputs_of(warehouse: DuckDBWarehouse) -> ServingInputs:
    with warehouse.connection() as conn:
        return read_inputs(conn)


def records_by_id(inputs: ServingInputs) -> dict[str, dict]:
    frames = build_snapshot_frames(inputs)
    return {
        pid: orjson.loads(body)
        for pid, body in zip(frames.records["profile_id"], frames.records["record"], strict=True)
    }
