"""A failing blocking contract check on a raw table stops staging in the same run."""

import pandas as pd
from dagster import AssetKey, asset, materialize

from profile_assets.staging.assets import STAGING_ASSETS
from profile_assets.staging.checks import contract_check, raw_contract
from profile_assets.warehouse import DuckDBWarehouse, Warehouse
from profile_assets_tests.staging_support import world_raw_tables

TICKETS_KEY = AssetKey(["staging", "tickets"])


def _raw_tickets(frame: pd.DataFrame):
    """A stand-in extraction asset that loads `frame` as raw.support_tickets."""

    @asset(key=AssetKey(["raw", "support_tickets"]))
    def raw_support_tickets(warehouse: Warehouse) -> None:
        with warehouse.connection() as conn:
            conn.write_df(frame, "raw.support_tickets", mode="replace")

    return raw_support_tickets


def _run(warehouse: DuckDBWarehouse, frame: pd.DataFrame):
    staging_tickets = next(a for a in STAGING_ASSETS if a.key == TICKETS_KEY)
    return materialize(
        [_raw_tickets(frame), contract_check(raw_contract("support_tickets")), staging_tickets],
        resources={"warehouse": warehouse},
        raise_on_error=False,
    )


def _check(result):
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def _staged(result) -> bool:
    return any(
        m.asset_key == TICKETS_KEY
        for m in (
            e.event_specific_data.materialization for e in result.get_asset_materialization_events()
        )
    )


def _ticket_rows(warehouse: DuckDBWarehouse) -> int:
    with warehouse.connection() as conn:
        return conn.row_count("staging.tickets")


def test_duplicate_primary_key_in_raw_blocks_staging_in_the_same_run(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"))
    tickets = world_raw_tables()["support_tickets"]
    duplicated = pd.concat([tickets, tickets.head(3)], ignore_index=True)

    result = _run(warehouse, duplicated)

    evaluation = _check(result)
    assert not evaluation.passed
    assert evaluation.metadata["failing_rows"].value >= 3
    assert "_source_id" in evaluation.metadata["failure_sample"].value
    assert not _staged(result)
    with warehouse.connection() as conn:
        assert not conn.table_exists("staging.tickets")


def test_clean_raw_table_lets_staging_run(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"))
    tickets = world_raw_tables()["support_tickets"]

    result = _run(warehouse, tickets)

    assert _check(result).passed
    assert _staged(result)
    assert _ticket_rows(warehouse) == len(tickets)


def test_raw_table_emptied_after_having_rows_blocks_staging(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"))
    tickets = world_raw_tables()["support_tickets"]
    assert _check(_run(warehouse, tickets)).passed

    result = _run(warehouse, tickets.head(0))

    evaluation = _check(result)
    assert not evaluation.passed
    assert (
        evaluation.metadata["reason"].value
        == f"empty, but had {len(tickets)} rows when last checked"
    )
    assert not _staged(result)
    assert _ticket_rows(warehouse) == len(tickets)  # yesterday's staging stays, not wiped


def test_drifted_raw_table_fails_its_contract_with_the_field_named(tmp_path):
    warehouse = DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"))
    tickets = world_raw_tables()["support_tickets"].drop(columns=["updated_at"])

    result = _run(warehouse, tickets)

    evaluation = _check(result)
    assert not evaluation.passed
    assert "support_tickets.updated_at" in evaluation.metadata["drift"].value
    assert not _staged(result)
