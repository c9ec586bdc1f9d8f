"""Scoring engine: no leakage, determinism, one row per customer, sums, ranking, BTYD fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from profile_assets.ml.btyd import Summary, fit_bgnbd, fit_pareto_nbd
from profile_assets.ml.features import Btyd, OrderDays, base_features, to_day
from profile_assets.ml.score import score_orders
from profile_assets.ml.spec import load_specs
from profile_assets.ml.training import labelled_rows, plan_cutoffs, point_in_time_rows
from profile_assets_tests.ml_support import TRUE_PARAMS, bgnbd_orders, realized

AS_OF, HORIZON = "2024-06-30", 90


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return bgnbd_orders(4000, seed=3)


@pytest.fixture(scope="module")
def scored(world):
    return score_orders(world, AS_OF, HORIZON, seed=5)


def test_features_ignore_orders_after_the_cutoff(world):
    cutoff = to_day("2024-01-31")
    days = OrderDays.from_orders(world)
    btyd = Btyd.fit(base_features(days, cutoff, HORIZON), seed=0)
    later = world["order_date"] > pd.Timestamp("2024-01-31")
    changed = pd.concat(
        [
            world[~later | (world.index % 2 == 0)],  # half the later orders removed ...
            world[later].assign(order_date=lambda f: f["order_date"] + pd.Timedelta(days=3)),
        ]
    )
    other = OrderDays.from_orders(changed)
    before = point_in_time_rows(days, cutoff, HORIZON, btyd)
    after = point_in_time_rows(other, cutoff, HORIZON, btyd)
    pd.testing.assert_frame_equal(before, after)
    # ... while the labels, which should see them, do change.
    labels_before = labelled_rows(days, cutoff, HORIZON, btyd)["label_days"]
    labels_after = labelled_rows(other, cutoff, HORIZON, btyd)["label_days"]
    assert not labels_before.equals(labels_after)


def test_orders_after_as_of_do_not_change_scores(world, scored):
    future = pd.DataFrame(
        {
            "customer_id": ["c00001", "new-after-as-of"],
            "order_date": pd.to_datetime(["2024-07-05", "2024-07-06"]),
            "amount": [10.0, 20.0],
        }
    )
    again = score_orders(pd.concat([world, future]), AS_OF, HORIZON, seed=5)
    pd.testing.assert_frame_equal(again.scores, scored.scores)


def test_scores_are_deterministic_for_a_seed(world, scored):
    again = score_orders(world, AS_OF, HORIZON, seed=5)
    pd.testing.assert_frame_equal(again.scores, scored.scores)


def test_every_customer_seen_by_as_of_is_scored_once(world):
    extra = pd.DataFrame(
        {
            "customer_id": ["first-on-as-of", "one-timer"],
            "order_date": pd.to_datetime([AS_OF, "2023-03-01"]),
            "amount": [5.0, 7.0],
        }
    )
    orders = pd.concat([world, extra])
    scores = score_orders(orders, AS_OF, HORIZON, seed=5).scores
    seen = orders.loc[orders["order_date"] <= pd.Timestamp(AS_OF), "customer_id"].unique()
    assert scores["customer_id"].is_unique
    assert set(scores["customer_id"]) == set(seen)
    assert scores[["purchase_propensity", "expected_orders", "churn_score"]].notna().all().all()
    assert scores["purchase_propensity"].between(0, 1).all()
    assert (scores["expected_orders"] >= scores["purchase_propensity"] - 1e-12).all()
    np.testing.assert_allclose(scores["churn_score"], 1 - scores["purchase_propensity"])
    newcomer = scores.set_index("customer_id").loc["first-on-as-of"]
    assert 0 < newcomer["purchase_propensity"] < 1


def test_predicted_sums_match_realized_on_a_holdout(world, scored):
    truth = realized(world, AS_OF, HORIZON)
    scores = scored.scores.set_index("customer_id").loc[truth.index]
    purchasers = scores["purchase_propensity"].sum() / (truth > 0).sum()
    order_days = scores["expected_orders"].sum() / truth.sum()
    assert 0.90 <= purchasers <= 1.10, purchasers
    assert 0.85 <= order_days <= 1.15, order_days


def test_model_ranks_better_than_recency_alone(world, scored):
    truth = realized(world, AS_OF, HORIZON) > 0
    scores = scored.scores.set_index("customer_id").loc[truth.index]
    last = (
        world[world["order_date"] <= pd.Timestamp(AS_OF)].groupby("customer_id")["order_date"].max()
    )
    recency_auc = roc_auc_score(truth, last.loc[truth.index].astype("int64"))
    model_auc = roc_auc_score(truth, scores["purchase_propensity"])
    assert model_auc > recency_auc + 0.01, (model_auc, recency_auc)


def test_bgnbd_fit_recovers_simulated_parameters():
    orders = bgnbd_orders(20_000, seed=1)
    frame = base_features(OrderDays.from_orders(orders), to_day("2024-12-30"), HORIZON)
    fitted = fit_bgnbd(Summary.from_frame(frame))
    for name, true in TRUE_PARAMS.items():
        assert getattr(fitted, name) == pytest.approx(true, rel=0.25), name


def test_pareto_nbd_predicts_the_holdout_of_a_bgnbd_world(world):
    """Pareto/NBD is the other story of the same process: its sum should be close."""
    days = OrderDays.from_orders(world)
    frame = base_features(days, to_day(AS_OF), HORIZON)
    summary = Summary.from_frame(frame)
    truth = realized(world, AS_OF, HORIZON).loc[frame.index]
    predicted = fit_pareto_nbd(summary).expected(summary, HORIZON).sum()
    assert predicted / truth.sum() == pytest.approx(1.0, abs=0.2)


def test_horizon_longer_than_history_trains_shorter_and_warns(world):
    young = world[world["order_date"] <= pd.Timestamp("2023-05-31")]
    plan = plan_cutoffs(
        to_day(young["order_date"].min()),
        to_day("2023-05-31"),
        365,
        load_specs()["purchase_propensity"].training,
    )
    assert plan.rescaled and plan.train_horizon < 365 and plan.cutoffs
    result = score_orders(young, "2023-05-31", 365, seed=0)
    assert any("longer than the labelled history" in w for w in result.warnings)
    short = score_orders(young, "2023-05-31", plan.train_horizon, seed=0).scores
    # A longer window can only add purchases.
    assert result.scores["expected_orders"].sum() > short["expected_orders"].sum()
    assert result.scores["purchase_propensity"].sum() > short["purchase_propensity"].sum()
