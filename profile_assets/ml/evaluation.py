"""Holdout evaluation for a model card: train as of `as_of - horizon`, score, compare with
what happened in the horizon after it.

The metrics a data scientist looks for (ROC AUC, PR AUC, Brier, log loss, calibration by
decile) and the two sums that say whether scores can be added up: predicted purchasers
against realized purchasers, predicted order days against realized order days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from profile_assets.ml.features import OrderDays, to_day
from profile_assets.ml.labels import order_day_counts
from profile_assets.ml.score import score_orders


def holdout_metrics(orders: pd.DataFrame, as_of: pd.Timestamp, horizon: int, *, seed: int = 0):
    """(metrics dict, calibration-by-decile frame) of a model trained before the holdout."""
    cutoff = pd.Timestamp(as_of) - pd.Timedelta(days=horizon)
    scores = score_orders(orders, cutoff, horizon, seed=seed).scores
    days = OrderDays.from_orders(orders)
    customers = pd.Index(scores["customer_id"])
    realized = order_day_counts(days, to_day(cutoff), horizon, customers)
    return metrics(scores, realized.to_numpy())


def metrics(scores: pd.DataFrame, realized_days: np.ndarray) -> tuple[dict, pd.DataFrame]:
    p = scores["purchase_propensity"].to_numpy(float)
    bought = realized_days > 0
    both = bool(bought.any() and (~bought).any())
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    out = {
        "holdout_customers": len(scores),
        "roc_auc": round(float(roc_auc_score(bought, p)), 4) if both else None,
        "pr_auc": round(float(average_precision_score(bought, p)), 4) if both else None,
        "brier": round(float(brier_score_loss(bought, p)), 5),
        "log_loss": round(float(log_loss(bought, clipped, labels=[False, True])), 5),
        "predicted_purchasers": round(float(p.sum()), 1),
        "realized_purchasers": int(bought.sum()),
        "predicted_order_days": round(float(scores["expected_orders"].sum()), 1),
        "realized_order_days": int(realized_days.sum()),
    }
    deciles = pd.qcut(pd.Series(p).rank(method="first"), 10, labels=False) if len(p) >= 10 else 0
    calibration = (
        pd.DataFrame({"decile": deciles, "predicted": p, "realized": bought.astype(float)})
        .groupby("decile")
        .mean()
        .round(4)
        .reset_index()
    )
    return out, calibration
