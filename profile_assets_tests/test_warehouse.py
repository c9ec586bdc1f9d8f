"""The warehouse interface behaves the same on DuckDB and on Snowflake (via fakesnow)."""

import fakesnow
import pandas as pd
import pytest
from dagster_snowflake import SnowflakeResource

from profile_assets.warehouse import DuckDBWarehouse, SnowflakeWarehouse


@pytest.fixture(params=["duckdb", "snowflake"])
def warehouse(request, tmp_path):
    if request.param == "duckdb":
        yield DuckDBWarehouse(path=str(tmp_path / "wh.duckdb"))
        return
    with fakesnow.patch():
        yield SnowflakeWarehouse(
            snowflake=SnowflakeResource(
                account="test", user="test", password="secret", database="PROFILE_ASSETS"
            )
        )


def _batch(ids, values, versions):
    return pd.DataFrame({"id": ids, "value": values, "version": versions})


def test_merge_keeps_latest_version_and_is_idempotent(warehouse):
    with warehouse.connection() as wh:
        wh.merge_df(
            _batch(["a", "b"], [1, 2], [1, 1]), "raw.things", ["id"], version_columns=["version"]
        )
        newer_and_stale = _batch(["a", "b", "c"], [10, 99, 3], [2, 0, 1])
        wh.merge_df(newer_and_stale, "raw.things", ["id"], version_columns=["version"])
        wh.merge_df(newer_and_stale, "raw.things", ["id"], version_columns=["version"])
        rows = wh.query_df("SELECT id, value FROM raw.things ORDER BY id")
    assert rows.to_dict("records") == [
        {"id": "a", "value": 10},
        {"id": "b", "value": 2},
        {"id": "c", "value": 3},
    ]


def test_merge_deduplicates_a_batch_by_latest_version(warehouse):
    with warehouse.connection() as wh:
        wh.merge_df(
            _batch(["a", "a", "a"], [1, 3, 2], [1, 3, 2]),
            "raw.things",
            ["id"],
            version_columns=["version"],
        )
        assert wh.query_df("SELECT value FROM raw.things")["value"].tolist() == [3]


def test_write_adds_new_columns_without_dropping_old(warehouse):
    with warehouse.connection() as wh:
        wh.write_df(pd.DataFrame({"id": ["a"]}), "staging.t")
        wh.write_df(pd.DataFrame({"id": ["b"], "extra": [1]}), "staging.t")
        rows = wh.query_df("SELECT id, extra FROM staging.t ORDER BY id")
    assert rows["id"].tolist() == ["a", "b"]
    assert pd.isna(rows["extra"].iloc[0]) and rows["extra"].iloc[1] == 1


def test_transaction_rolls_back_on_error(warehouse):
    with warehouse.connection() as wh:
        wh.write_df(pd.DataFrame({"id": ["a"]}), "ops.t")
        with pytest.raises(RuntimeError), wh.transaction():
            wh.execute("DELETE FROM ops.t")
            raise RuntimeError("crash mid-write")
        assert wh.row_count("ops.t") == 1
