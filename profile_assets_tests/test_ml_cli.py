"""`profile-assets score`: each customer once, clear errors, counted drops, no traceback."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from profile_assets.cli import main
from profile_assets_tests.ml_support import bgnbd_orders

AS_OF = "2024-06-30"


@pytest.fixture(scope="module")
def orders_csv(tmp_path_factory) -> Path:
    """A small world with messy headers, as files from anywhere have them."""
    orders = bgnbd_orders(1500, seed=11).rename(
        columns={"customer_id": "Customer ID", "order_date": "ORDER_DATE", "amount": " Amount "}
    )
    orders["Order Date"] = orders.pop("ORDER_DATE").dt.strftime("%Y-%m-%d")
    path = tmp_path_factory.mktemp("orders") / "orders.csv"
    orders.to_csv(path, index=False)
    return path


def _score(orders: Path, out: Path, horizon: int = 60, as_of: str = AS_OF):
    args = ["score", "--orders", str(orders), "--as-of", as_of, "--horizon-days", str(horizon)]
    return CliRunner().invoke(main, [*args, "--out", str(out)])


def _assert_clean_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def test_score_writes_every_customer_once(orders_csv, tmp_path):
    out = tmp_path / "scores.parquet"
    result = _score(orders_csv, out)
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    orders = pd.read_csv(orders_csv)
    seen = orders.loc[pd.to_datetime(orders["Order Date"]) <= AS_OF, "Customer ID"]
    assert list(scores.columns) == [
        "customer_id",
        "purchase_propensity",
        "expected_orders",
        "churn_score",
    ]
    assert scores["customer_id"].is_unique and set(scores["customer_id"]) == set(seen)
    assert "orders after the as-of date" in result.output


def test_missing_column_is_a_clear_error(tmp_path):
    path = tmp_path / "o.csv"
    pd.DataFrame({"customer_id": ["a"], "amount": [1.0]}).to_csv(path, index=False)
    _assert_clean_error(_score(path, tmp_path / "s.csv"), "order_ts or order_date")
    pd.DataFrame({"order_date": ["2024-01-01"]}).to_csv(path, index=False)
    _assert_clean_error(_score(path, tmp_path / "s.csv"), "customer_id")


def test_unparsable_dates_and_negative_amounts_are_dropped_and_counted(orders_csv, tmp_path):
    orders = pd.read_csv(orders_csv)
    orders.loc[:4, "Order Date"] = "not a date"
    orders.loc[5:7, " Amount "] = -12.5
    path = tmp_path / "messy.csv"
    orders.to_csv(path, index=False)
    out = tmp_path / "scores.csv"
    result = _score(path, out)
    assert result.exit_code == 0, result.output
    assert "5 with unparsable dates" in result.output
    assert "3 with negative amounts" in result.output
    assert pd.read_csv(out)["customer_id"].is_unique


def test_all_dates_unparsable_is_an_error(tmp_path):
    path = tmp_path / "o.csv"
    pd.DataFrame({"customer_id": ["a", "b"], "order_ts": ["soon", "later"]}).to_csv(
        path, index=False
    )
    _assert_clean_error(_score(path, tmp_path / "s.csv"), "no usable orders", "2 with unparsable")


def test_empty_file_is_an_error(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _assert_clean_error(_score(empty, tmp_path / "s.csv"), "empty")
    header_only = tmp_path / "header.csv"
    header_only.write_text("customer_id,order_date\n")
    _assert_clean_error(_score(header_only, tmp_path / "s.csv"), "no orders")


def test_bad_options_are_clear_errors(orders_csv, tmp_path):
    _assert_clean_error(_score(orders_csv, tmp_path / "s.csv", as_of="30/06/2024"), "YYYY-MM-DD")
    _assert_clean_error(_score(orders_csv, tmp_path / "s.json"), ".csv or .parquet")
    _assert_clean_error(_score(orders_csv, tmp_path / "s.csv", horizon=0), "at least 1")
    _assert_clean_error(_score(tmp_path / "nope.csv", tmp_path / "s.csv"), "no such file")
    _assert_clean_error(
        _score(orders_csv, tmp_path / "s.csv", as_of="2001-01-01"), "no orders on or before"
    )


def test_horizon_longer_than_history_warns(orders_csv, tmp_path):
    out = tmp_path / "scores.csv"
    result = _score(orders_csv, out, horizon=365, as_of="2023-06-30")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "rescaled" in result.output
    scores = pd.read_csv(out)
    assert scores["purchase_propensity"].between(0, 1).all()
