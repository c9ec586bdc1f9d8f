"""The storefront CDC multi-asset and its sensor, run through Dagster against a real Postgres."""

from contextlib import closing

import pytest
from dagster import DagsterInstance, RunRequest, SkipReason, build_sensor_context, materialize

from profile_assets.sandbox import storefront as sf
from profile_assets.sandbox.changes import generate_changes
from profile_assets.sources.cdc.assets import storefront_cdc, storefront_cdc_sensor
from profile_assets.sources.resources import StorefrontResource
from profile_assets.warehouse import DuckDBWarehouse

SLOT = "test_cdc_assets"


@pytest.fixture(scope="module")
def resources(storefront_server, tmp_path_factory):
    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    return {
        "warehouse": DuckDBWarehouse(path=str(path)),
        "storefront": StorefrontResource(dsn=storefront_server.dsn, slot_name=SLOT),
    }


def _sensor(resources):
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance, resources=resources)
        return storefront_cdc_sensor(context)


def _rows(resources, sql):
    with resources["warehouse"].connection() as conn:
        return conn.query_df(sql)


def test_first_run_snapshots_every_storefront_table(resources, storefront_server):
    assert isinstance(_sensor(resources), RunRequest)  # no slot yet: a snapshot is due
    result = materialize([storefront_cdc], resources=resources)
    assert result.success
    with closing(storefront_server.connect()) as pg, pg.cursor() as cur:
        cur.execute("SELECT count(*) FROM customers")
        customers = cur.fetchone()[0]
    assert (
        _rows(resources, "SELECT count(*) AS n FROM raw.storefront_customers")["n"][0] == customers
    )
    metadata = result.asset_materializations_for_node("storefront_cdc")[0].metadata
    assert metadata["snapshot_rows"].value > customers


def test_sensor_launches_a_run_only_when_changes_wait(
    resources, storefront_server, storefront_world
):
    assert isinstance(_sensor(resources), SkipReason)
    with closing(storefront_server.connect()) as pg:
        sf.apply_changes(pg, generate_changes(storefront_world, 30, seed=5))
    assert isinstance(_sensor(resources), RunRequest)
    assert materialize([storefront_cdc], resources=resources).success
    assert isinstance(_sensor(resources), SkipReason)
    latest = _rows(resources, "SELECT max(updated_at) AS t FROM raw.storefront_customers")["t"][0]
    with closing(storefront_server.connect()) as pg, pg.cursor() as cur:
        cur.execute("SELECT max(updated_at) FROM customers")
        assert cur.fetchone()[0] == latest.to_pydatetime().replace(tzinfo=None)
