"""Train on history up to an as-of date and score every customer seen by then.

    scores = score_orders(orders, as_of="2024-06-30", horizon=90).scores

Outputs per customer (one row each, every customer with an order day on or before as-of):
- `purchase_propensity`: P(at least one order day in (as_of, as_of + horizon]).
- `expected_orders`: expected distinct order days in that window.
- `churn_score`: P(no order day in that window) = 1 - purchase_propensity (the `churn` spec is
  the complement of `purchase_propensity`, so a high score means "at risk").

Steps: plan rolling-origin cutoffs (training.plan_cutoffs), stack point-in-time rows, fit the
two trained specs, measure drift on a backtest (calibration), score the as-of rows, correct
for drift, and rescale to the requested horizon when the history was too short for it.
Orders after as-of are dropped first: they are the future.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from threadpoolctl import threadpool_limits

from profile_assets.ml.btyd import Summary
from profile_assets.ml.calibration import anchor, implied_p_any, rescale_horizon
from profile_assets.ml.features import Btyd, OrderDays, base_features, to_day
from profile_assets.ml.spec import ModelSpec, load_specs
from profile_assets.ml.training import (
    MIN_OFFSET,
    CutoffPlan,
    FittedModel,
    NotEnoughHistory,
    check_trainable,
    fit_model,
    plan_cutoffs,
    point_in_time_rows,
    sample_rows,
    stack_rows,
)

SCORE_COLUMNS = ["customer_id", "purchase_propensity", "expected_orders", "churn_score"]
PROPENSITY, EXPECTED, CHURN = "purchase_propensity", "expected_orders", "churn"

#: `progress(stage, fraction done)`, e.g. a progress bar on stderr.
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class ScoreResult:
    """Scores plus what a user or a model card needs to trust them."""

    scores: pd.DataFrame
    plan: CutoffPlan
    btyd: Btyd
    training_rows: int
    warnings: tuple[str, ...] = ()
    models: Mapping[str, FittedModel] = field(default_factory=dict)


def score_orders(
    orders: pd.DataFrame,
    as_of: str | pd.Timestamp,
    horizon: int,
    *,
    specs: Mapping[str, ModelSpec] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    threads: int = 1,
) -> ScoreResult:
    """Score clean orders (`orders.clean_orders` output) as of `as_of` for `horizon` days.

    `threads` caps OpenMP in the gradient boosting: on a shared 2-core machine (load 10) one
    fit took 19 s with one thread and 168 s with two, because OpenMP threads spin-wait for
    cores other jobs hold. One thread is the predictable default.
    """
    with threadpool_limits(limits=threads):
        return _score(orders, as_of, horizon, dict(specs or load_specs()), seed, progress)


def _score(
    orders: pd.DataFrame,
    as_of: str | pd.Timestamp,
    horizon: int,
    specs: dict[str, ModelSpec],
    seed: int,
    progress: Progress | None,
) -> ScoreResult:
    report = progress or (lambda stage, fraction: None)
    as_of_day = to_day(as_of)
    days = OrderDays.from_orders(orders).until(as_of_day)
    if len(days.day) == 0:
        raise ValueError(f"no orders on or before the as-of date {pd.Timestamp(as_of).date()}")
    training = specs[PROPENSITY].training
    report("fitting BG/NBD and Pareto/NBD", 0.0)
    btyd = Btyd.fit(base_features(days, as_of_day, horizon), seed)
    try:
        plan = plan_cutoffs(days.first_day, as_of_day, horizon, training)
        n = len(plan.cutoffs)
        rows = stack_rows(days, plan, btyd, lambda i: report("training set", 0.6 * i / n))
        check_trainable(rows)
    except NotEnoughHistory as reason:
        return _btyd_only(days, as_of_day, horizon, btyd, str(reason))
    report("fitting models", 0.6)
    models = _fit_pair(specs, sample_rows(rows, training.max_rows, seed), seed)
    report("scoring", 0.9)
    current = point_in_time_rows(days, as_of_day, plan.train_horizon, btyd)
    propensity, expected = predict_pair(models, current)
    if plan.rescaled:
        propensity, expected = rescale_horizon(
            propensity,
            expected,
            btyd.bgnbd,
            Summary.from_frame(current),
            plan.train_horizon,
            horizon,
        )
    report("done", 1.0)
    scores = _score_frame(current.index, propensity, expected)
    return ScoreResult(scores, plan, btyd, len(rows), _plan_warnings(plan), models)


def _btyd_only(days: OrderDays, as_of: int, horizon: int, btyd: Btyd, reason: str) -> ScoreResult:
    """Too little history to train: the BG/NBD fitted at as-of scores everyone, with a warning."""
    current = point_in_time_rows(days, as_of, horizon, btyd)
    scores = _score_frame(current.index, current["bg_p_any"], current["bg_expected"])
    plan = CutoffPlan(as_of, horizon, horizon, ())
    warning = f"{reason}; scores come from a BG/NBD fitted on all history instead"
    return ScoreResult(scores, plan, btyd, 0, (warning,))


def _score_frame(customers: pd.Index, propensity, expected) -> pd.DataFrame:
    propensity = np.clip(np.asarray(propensity, float), 0.0, 1.0)
    return pd.DataFrame(
        {
            "customer_id": customers.to_numpy(),
            "purchase_propensity": propensity,
            # E[count] >= P(count >= 1) always; enforce it where two models disagree.
            "expected_orders": np.maximum(np.asarray(expected, float), propensity),
            "churn_score": 1.0 - propensity,
        }
    )


def predict_pair(
    models: Mapping[str, FittedModel], rows: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Propensity and expected order days for the training horizon.

    Expected days come from the count model. The propensity ranks by the spec's blend of the
    classifier and log(expected days) and takes its level from the purchasers the count model
    implies (1 - (1 - P_bg)^(E / E_bg) per customer; see `calibration`).
    """
    expected = models[EXPECTED].predict(rows)
    intensity = expected / np.maximum(rows["bg_expected"].to_numpy(), MIN_OFFSET)
    implied = implied_p_any(rows["bg_p_any"].to_numpy(), intensity)
    weight = models[PROPENSITY].spec.ranking.classifier_weight
    classifier = np.clip(models[PROPENSITY].predict(rows), 1e-6, 1 - 1e-6)
    ranking = expit(weight * logit(classifier) + np.log(np.maximum(expected, MIN_OFFSET)))
    return anchor(ranking, implied), expected


def _fit_pair(specs: Mapping[str, ModelSpec], rows: pd.DataFrame, seed: int) -> dict:
    """The two trained models; churn is derived, not trained."""
    return {name: fit_model(specs[name], rows, seed) for name in (PROPENSITY, EXPECTED)}


def _plan_warnings(plan: CutoffPlan) -> tuple[str, ...]:
    if not plan.rescaled:
        return ()
    return (
        f"horizon {plan.horizon} days is longer than the labelled history allows: trained on "
        f"{plan.train_horizon}-day windows and rescaled each customer's prediction to "
        f"{plan.horizon} days with the BG/NBD fitted at the as-of date",
    )
