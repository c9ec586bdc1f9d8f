"""Rolling-origin training sets and the estimators the specs name.

A training row is (customer, cutoff): features as of the cutoff, label from the horizon after
it. The BTYD population parameters behind the BTYD features are fitted once on all history up
to the as-of date: a BG/NBD fitted at an early cutoff on a few weeks of data is biased in a way
the one at as-of is not, and a correction learned on the former would not transfer to the
latter. Nothing after the as-of date is used, and a customer's features still see only that
customer's orders up to the cutoff.

Several cutoffs before the as-of date are stacked so the model sees enough positives and
more than one season; the newest cutoff is `as_of - horizon`, so every label window ends on or
before the as-of date and nothing after it is used.

When the requested horizon is longer than the labelled history (no cutoff has a full window),
the plan trains on the longest horizon the history allows and the scorer rescales to the
requested one (see `calibration.rescale_horizon`); `CutoffPlan.rescaled` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from profile_assets.ml.features import Btyd, OrderDays, base_features, btyd_features
from profile_assets.ml.labels import order_day_counts
from profile_assets.ml.spec import EstimatorSpec, ModelSpec, TrainingSpec

#: Shortest label window worth training on.
MIN_TRAIN_HORIZON = 7
#: Fewer stacked rows or positive (or negative) labels than this is too little to learn from.
MIN_TRAINING_ROWS = 200
MIN_CLASS_ROWS = 20
LABEL = "label_days"
#: Floor of an offset (expected order days) so y / offset stays finite.
MIN_OFFSET = 1e-3


class NotEnoughHistory(ValueError):
    """Too little history before the as-of date to build even one labelled cutoff."""


@dataclass(frozen=True)
class CutoffPlan:
    """Which cutoffs (days since epoch, ascending) train a model for `horizon` at `as_of`."""

    as_of: int
    horizon: int
    train_horizon: int
    cutoffs: tuple[int, ...]

    @property
    def rescaled(self) -> bool:
        """True when the label window is shorter than the requested horizon."""
        return self.train_horizon < self.horizon


def plan_cutoffs(first_day: int, as_of: int, horizon: int, training: TrainingSpec) -> CutoffPlan:
    """Newest cutoff `as_of - train_horizon`, then back by the step while history allows."""
    earliest = first_day + training.min_history_days
    available = as_of - earliest
    if available < MIN_TRAIN_HORIZON:
        raise NotEnoughHistory(
            f"need at least {training.min_history_days + MIN_TRAIN_HORIZON} days of orders "
            f"before the as-of date, have {as_of - first_day}"
        )
    # Too short for the horizon: use half the available history for labels, so the cutoffs
    # sit where most customers have arrived, rather than one cutoff on the first weeks.
    train_horizon = horizon if horizon <= available else max(MIN_TRAIN_HORIZON, available // 2)
    step = max(training.min_step_days, round(training.step_fraction * train_horizon))
    newest = as_of - train_horizon
    cutoffs = [newest - i * step for i in range(training.max_cutoffs)]
    return CutoffPlan(
        as_of, horizon, train_horizon, tuple(sorted(c for c in cutoffs if c >= earliest))
    )


def point_in_time_rows(days: OrderDays, cutoff: int, horizon: int, btyd: Btyd) -> pd.DataFrame:
    """Features as of `cutoff`, BTYD features from the shared population parameters."""
    return btyd_features(base_features(days, cutoff, horizon), btyd, horizon)


def labelled_rows(days: OrderDays, cutoff: int, horizon: int, btyd: Btyd) -> pd.DataFrame:
    """`point_in_time_rows` plus the label (order days in the horizon) and the cutoff."""
    frame = point_in_time_rows(days, cutoff, horizon, btyd)
    frame[LABEL] = order_day_counts(days, cutoff, horizon, frame.index).to_numpy()
    frame["cutoff"] = cutoff
    return frame


def stack_rows(
    days: OrderDays,
    plan: CutoffPlan,
    btyd: Btyd,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Labelled rows of every cutoff in the plan, stacked; `progress(i)` after each cutoff."""
    parts = []
    for i, cutoff in enumerate(plan.cutoffs):
        parts.append(labelled_rows(days, cutoff, plan.train_horizon, btyd))
        if progress:
            progress(i + 1)
    return pd.concat(parts)


def check_trainable(rows: pd.DataFrame) -> None:
    """Raise `NotEnoughHistory` unless the rows can train a classifier and a count model."""
    positives = int((rows[LABEL] > 0).sum())
    if len(rows) < MIN_TRAINING_ROWS or min(positives, len(rows) - positives) < MIN_CLASS_ROWS:
        raise NotEnoughHistory(
            f"too little labelled history to train ({len(rows):,} customer-cutoff rows, "
            f"{positives:,} with an order in the window)"
        )


def sample_rows(rows: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """A uniform seeded sample of at most `max_rows` rows (all rows when fewer)."""
    if len(rows) <= max_rows:
        return rows
    keep = np.random.default_rng(seed).choice(len(rows), max_rows, replace=False)
    return rows.iloc[np.sort(keep)]


def build_estimator(spec: EstimatorSpec, seed: int):
    """The scikit-learn estimator a spec names, with its hyperparameters and our seed."""
    kinds = {
        "hist_gradient_boosting_classifier": HistGradientBoostingClassifier,
        "hist_gradient_boosting_regressor": HistGradientBoostingRegressor,
    }
    if spec.kind not in kinds:
        raise ValueError(f"estimator kind {spec.kind!r} is not trained")
    return kinds[spec.kind](**spec.params, random_state=seed)


@dataclass(frozen=True)
class FittedModel:
    """A spec and the estimator trained from it; `predict` gives P(any) or expected days."""

    spec: ModelSpec
    estimator: object

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        features = rows[list(self.spec.features)]
        if self.spec.label.kind == "order_day_count":
            return self.estimator.predict(features) * _offset(self.spec, rows)
        return self.estimator.predict_proba(features)[:, 1]


def fit_model(spec: ModelSpec, rows: pd.DataFrame, seed: int) -> FittedModel:
    """Fit the spec's estimator on stacked rows (the label kind picks the target).

    A count model with an offset fits y / offset with weight offset: the Poisson deviance of
    that is exactly the deviance of y against offset * f(x), so f learns a correction to the
    offset (a BTYD expectation) and stays near 1 where the offset is right. Trees extrapolate a
    correction flat, which is much safer than extrapolating a level.
    """
    features = rows[list(spec.features)]
    estimator = build_estimator(spec.estimator, seed)
    if spec.label.kind != "order_day_count":
        estimator.fit(features, (rows[LABEL] > 0).to_numpy())
    else:
        offset = _offset(spec, rows)
        estimator.fit(features, rows[LABEL].to_numpy() / offset, sample_weight=offset)
    return FittedModel(spec, estimator)


def _offset(spec: ModelSpec, rows: pd.DataFrame) -> np.ndarray:
    if spec.estimator.offset is None:
        return np.ones(len(rows))
    return np.maximum(rows[spec.estimator.offset].to_numpy(float), MIN_OFFSET)
