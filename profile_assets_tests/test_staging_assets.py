"""Staging assets materialize from raw tables into DuckDB, report, quarantine and check."""

import json

import pandas as pd
import pytest
from dagster import AssetKey, materialize

from profile_assets.staging.assets import STAGING_ASSETS
from profile_assets.staging.checks import STAGING_CHECKS
from profile_assets.staging.contacts import PERSON_SOURCES
from profile_assets.staging.extract import schema_version
from profile_assets.staging.tables import STAGING_TABLES, WEB_ACTIVITY
from profile_assets.warehouse import DuckDBWarehouse
from profile_assets_tests.staging_support import seed_raw, staging_world, world_raw_tables


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """The session world's raw tables in a fresh DuckDB file, staged once by Dagster."""
    warehouse = DuckDBWarehouse(path=str(tmp_path_factory.mktemp("staging") / "wh.duckdb"))
    with warehouse.connection() as conn:
        seed_raw(conn, staging_world())
    result = materialize([*STAGING_ASSETS, *STAGING_CHECKS], resources={"warehouse": warehouse})
    return warehouse, result


def _query(warehouse, sql: str) -> pd.DataFrame:
    with warehouse.connection() as conn:
        return conn.query_df(sql)


def test_every_staging_table_has_exactly_the_contract_columns(staged):
    warehouse, _ = staged
    for spec in STAGING_TABLES:
        columns = _query(warehouse, f"DESCRIBE {spec.table}")
        assert columns["column_name"].tolist() == list(spec.columns), spec.table
        types = dict(zip(columns["column_name"], columns["column_type"], strict=True))
        expected = {"date": "DATE", "timestamp": "TIMESTAMP WITH TIME ZONE", "boolean": "BOOLEAN"}
        for column, logical in spec.columns.items():
            if logical in expected:
                assert types[column] == expected[logical], (spec.table, column)


def test_every_staging_check_passes_on_the_sandbox_world(staged):
    _, result = staged
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 2 * len(STAGING_TABLES)
    failed = {
        (e.asset_key.to_user_string(), e.check_name): e.metadata
        for e in evaluations
        if not e.passed
    }
    assert failed == {}


def test_materializations_report_rows_rejects_and_schema_version(staged):
    _, result = staged
    metadata = result.asset_materializations_for_node("staging__orders")[0].metadata
    assert metadata["dagster/row_count"].value > 0
    assert metadata["rejected_rows"].value > 0
    assert metadata["schema_version"].value == schema_version()
    assert metadata["skipped_rows"].value == {"crm_deals": int(_lost_deals())}
    assert metadata["preview"].value.startswith("| source ")


def _lost_deals() -> int:
    deals = world_raw_tables()["crm_deals"]
    return (deals["dealstage"] != "closedwon").sum()


def test_each_raw_person_record_is_staged_or_quarantined(staged):
    warehouse, result = staged
    run_id = result.run_id
    counts = _query(warehouse, "SELECT source, COUNT(*) AS n FROM staging.contacts GROUP BY 1")
    rejected = _query(
        warehouse,
        f"SELECT source, COUNT(*) AS n FROM ops.rejected_records WHERE run_id = '{run_id}' "
        "GROUP BY 1",
    )
    staged_n = dict(zip(counts["source"], counts["n"], strict=True))
    rejected_n = dict(zip(rejected["source"], rejected["n"], strict=True))
    for source in PERSON_SOURCES:
        raw_n = len(world_raw_tables()[source])
        assert staged_n.get(source, 0) + rejected_n.get(source, 0) == raw_n, source


def test_quarantined_rows_carry_reasons_and_payloads(staged):
    warehouse, result = staged
    rows = _query(
        warehouse,
        "SELECT source, reason, payload FROM ops.rejected_records "
        f"WHERE run_id = '{result.run_id}' AND source = 'storefront_orders'",
    )
    assert len(rows) > 0
    assert rows["reason"].str.startswith("staging: ").all()
    assert set(rows["reason"].str.extract(r"staging: ([a-z_ ]+)")[0]) == {
        "order_ts in the future",
        "amount is negative",
    }
    payload = json.loads(rows["payload"].iloc[0])
    assert {"id", "amount", "_source_id", "_op"} <= set(payload)


def test_staged_times_are_utc_in_the_warehouse(staged):
    warehouse, _ = staged
    world = staging_world()
    orders = _query(
        warehouse,
        "SELECT order_id, order_ts FROM staging.orders WHERE source = 'storefront_orders'",
    )
    truth = world.tables["storefront_orders"].assign(order_id=lambda d: d["id"].astype(str))
    joined = orders.merge(truth[["order_id", "order_ts"]], on="order_id", suffixes=("", "_w"))
    assert len(joined) == len(orders) > 0
    assert (joined["order_ts"].dt.tz_convert("UTC") == joined["order_ts_w"]).all()


def test_rematerializing_replaces_rather_than_appends(staged):
    warehouse, _ = staged
    before = _query(warehouse, "SELECT COUNT(*) AS n FROM staging.contacts")["n"].iloc[0]
    contacts = [a for a in STAGING_ASSETS if a.key == AssetKey(["staging", "contacts"])]
    materialize(contacts, resources={"warehouse": warehouse})
    after = _query(warehouse, "SELECT COUNT(*) AS n FROM staging.contacts")["n"].iloc[0]
    assert after == before


def test_drifted_source_fails_the_asset_and_writes_nothing(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"))
    tickets = world_raw_tables()["support_tickets"].rename(columns={"requester_id": "user"})
    with warehouse.connection() as conn:
        conn.write_df(tickets, "raw.support_tickets")
    asset = [a for a in STAGING_ASSETS if a.key == AssetKey(["staging", "tickets"])]
    result = materialize(asset, resources={"warehouse": warehouse}, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert "support_tickets.requester_id" in failure.description
    assert failure.metadata["source"].value == "support_tickets"
    with warehouse.connection() as conn:
        assert not conn.table_exists("staging.tickets")


def test_staging_runs_unchanged_on_snowflake():
    """The same steps and contract checks on Snowflake SQL (fakesnow runs it in-process)."""
    import fakesnow
    from dagster_snowflake import SnowflakeResource

    from profile_assets.staging.assets import STEPS, run_step
    from profile_assets.staging.checks import evaluate_contract, staging_contract
    from profile_assets.warehouse import SnowflakeWarehouse

    world, raws = staging_world(), world_raw_tables()
    with fakesnow.patch():
        warehouse = SnowflakeWarehouse(
            snowflake=SnowflakeResource(
                account="test", user="test", password="secret", database="PROFILE_ASSETS"
            )
        )
        with warehouse.connection() as conn:
            # Contacts and orders cover every type the raw tables bring back (dates, booleans,
            # decimals, JSON lists); raw file tables are left out (their headers have spaces).
            steps = [s for s in STEPS if s.table.name in ("contacts", "orders")]
            for name in {t for step in steps for t in step.sources} - {
                "file_contacts",
                "file_orders",
            }:
                conn.write_df(raws[name], f"raw.{name}")
            for step in steps:
                staged, _ = run_step(conn, step, run_id="sf", now=world.as_of)
                assert conn.row_count(step.table.table) == len(staged.frame) > 0
                contract = evaluate_contract(conn, staging_contract(step.table), run_id="sf")
                assert contract.passed, (step.table.table, contract.metadata)


def test_every_raw_contract_passes_on_the_sandbox_world(staged):
    """Raw tables as the loaders write them (JSON list text, store-local times) fit."""
    from profile_assets.staging.checks import RAW_TABLES, evaluate_contract, raw_contract

    warehouse, _ = staged
    with warehouse.connection() as conn:
        for table in RAW_TABLES:
            result = evaluate_contract(conn, raw_contract(table), run_id="raw-check")
            assert result.passed, (table, result.metadata)


def test_a_source_never_loaded_gives_an_empty_table_and_a_warning_not_a_failure(tmp_path):
    """A retailer without web analytics: staging.web_activity exists, empty, typed, and says
    which raw table is missing; the run succeeds."""
    warehouse = DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"))
    asset = [a for a in STAGING_ASSETS if a.key == AssetKey(["staging", "web_activity"])]
    result = materialize(asset, resources={"warehouse": warehouse})
    assert result.success
    meta = result.asset_materializations_for_node("staging__web_activity")[0].metadata
    assert meta["missing_raw_tables"].value == ["web_user_days"]
    assert meta["dagster/row_count"].value == 0
    with warehouse.connection() as conn:
        assert conn.row_count("staging.web_activity") == 0
        assert conn.columns("staging.web_activity") == list(WEB_ACTIVITY.empty().columns)
