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


def _seed(wh):
    wh.write_df(pd.DataFrame({"id": ["a"], "value": [1], "version": [1]}), "raw.things")
    wh.write_df(pd.DataFrame({"stream": ["s"], "cursor": ["c1"]}), "ops.cursors")


def _state(wh):
    things = wh.query_df("SELECT id, value FROM raw.things ORDER BY id").to_dict("records")
    cursors = wh.query_df("SELECT cursor FROM ops.cursors")["cursor"].tolist()
    return things, cursors


def _record_step(unit):
    unit.merge(
        _batch(["a", "b"], [10, 20], [2, 1]), "raw.things", ["id"], version_columns=["version"]
    )
    unit.append(pd.DataFrame({"id": ["x"]}), "ops.new_table")
    unit.replace(pd.DataFrame({"stream": ["s"], "cursor": ["c2"]}), "ops.cursors")


def test_unit_of_work_applies_every_write_together(warehouse):
    with warehouse.connection() as wh:
        _seed(wh)
        with wh.unit_of_work() as unit:
            _record_step(unit)
        assert _state(wh) == ([{"id": "a", "value": 10}, {"id": "b", "value": 20}], ["c2"])
        assert wh.row_count("ops.new_table") == 1
        leftovers = wh.query_df(
            "SELECT table_name FROM information_schema.tables WHERE LOWER(table_name) LIKE '_uow_%'"
        )
        assert leftovers.empty


def test_unit_of_work_killed_between_staging_and_commit_changes_nothing(warehouse, monkeypatch):
    """The crash lands after every scratch table is written and the first DML statement ran
    inside the transaction: nothing of the step may be visible afterwards."""
    with warehouse.connection() as wh:
        _seed(wh)
        executed = []
        real_execute = type(wh).execute

        def crash_on_second_dml(self, sql, params=None):
            if sql.startswith(("UPDATE", "INSERT", "DELETE")):
                executed.append(sql)
                if len(executed) == 2:
                    raise KeyboardInterrupt("killed mid-commit")
            return real_execute(self, sql, params)

        monkeypatch.setattr(type(wh), "execute", crash_on_second_dml)
        with pytest.raises(KeyboardInterrupt), wh.unit_of_work() as unit:
            _record_step(unit)
        monkeypatch.undo()
        assert len(executed) == 2
        assert _state(wh) == ([{"id": "a", "value": 1}], ["c1"])
        assert wh.row_count("ops.new_table") == 0


def test_unit_of_work_discards_writes_when_the_step_fails_before_commit(warehouse):
    with warehouse.connection() as wh:
        _seed(wh)
        with pytest.raises(RuntimeError), wh.unit_of_work() as unit:
            _record_step(unit)
            raise RuntimeError("the step failed after recording its writes")
        assert _state(wh) == ([{"id": "a", "value": 1}], ["c1"])
        assert not wh.table_exists("ops.new_table")


def test_compaction_leaves_no_bytes_of_deleted_rows_and_keeps_the_rest(warehouse, tmp_path):
    secret = "erased.person.8271@example.org"
    rows = pd.DataFrame({"id": range(2000), "email": [f"kept{i}@example.org" for i in range(2000)]})
    rows.loc[1234, "email"] = secret
    with warehouse.connection() as wh:
        wh.write_df(rows, "raw.people", mode="replace")
        wh.execute(f"DELETE FROM raw.people WHERE email = '{secret}'")
    seconds = warehouse.compact()
    with warehouse.connection() as wh:
        assert wh.row_count("raw.people") == 1999
    if isinstance(warehouse, DuckDBWarehouse):
        assert seconds is not None and seconds >= 0
        data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
        assert secret.encode() not in data
        assert not list(tmp_path.glob("*.compacting*"))
    else:
        assert seconds is None  # Snowflake owns its storage
