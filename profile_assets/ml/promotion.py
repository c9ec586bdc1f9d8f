"""Promotion: a candidate replaces the served model only if it is not worse beyond the spec's
tolerance on the spec's metric (holdout metrics from the model cards)."""

from __future__ import annotations

from profile_assets.ml.spec import ModelSpec

HIGHER_IS_BETTER = frozenset({"roc_auc", "pr_auc"})


def metric_value(card: dict, metric: str) -> float | None:
    """The card's value of `metric`; `sum_ratio` is |predicted / realized order days - 1|."""
    holdout = card.get("holdout", {})
    if metric == "sum_ratio":
        realized = holdout.get("realized_order_days") or 0
        return abs(holdout["predicted_order_days"] / realized - 1) if realized else None
    return holdout.get(metric)


def decide(candidate: dict, current: dict | None, spec: ModelSpec) -> tuple[bool, str]:
    """(promote?, why) for a candidate card against the current one under `spec`."""
    metric, tolerance = spec.promotion.metric, spec.promotion.tolerance
    if current is None:
        return True, "no model served yet"
    new, old = metric_value(candidate, metric), metric_value(current, metric)
    if new is None or old is None:
        return True, f"{metric} not measurable on one of the holdouts; promoted by default"
    worse = old - new if metric in HIGHER_IS_BETTER else new - old
    if worse > tolerance:
        return False, (
            f"kept as a candidate: holdout {metric} {new:.4f} is worse than the served "
            f"{old:.4f} by {worse:.4f} (tolerance {tolerance})"
        )
    return True, f"holdout {metric} {new:.4f} vs served {old:.4f} (tolerance {tolerance})"
