"""Keeping the sums honest: drift correction and horizon rescaling.

Drift. A model trained on past cutoffs is calibrated for the past: when the purchase rate
trends (a cohort ageing, a growing base, a season), its sums at the as-of date are off even if
its ranking is good. We measure that error where we can see it — a backtest that trains on the
cutoffs whose label windows end by the newest cutoff and predicts the newest one, the same gap
the real model faces at the as-of date — and carry the correction forward: a shift in logit
space for probabilities (keeps order and bounds) and a factor for expected counts. Both are
bounded (`MAX_LOGIT_SHIFT`, `MAX_COUNT_FACTOR`) so one odd window cannot swing the scores far.

Horizon. When the requested horizon is longer than the labelled history, the models predict
for the longest trainable horizon and `rescale_horizon` stretches each customer's prediction by
what the BG/NBD fitted at the as-of date says about that customer's longer window:
expected days by the ratio E_bg(N)/E_bg(h), probabilities by the shift of cloglog(P_bg) (for a
Poisson clock cloglog(P) = log(rate * t), so this is exact when the rate is constant and keeps
the BG/NBD's dropout otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logit

from profile_assets.ml.btyd import BGNBD, Summary

MAX_LOGIT_SHIFT = 1.0
MAX_COUNT_FACTOR = 2.0
_EPS = 1e-6


@dataclass(frozen=True)
class Drift:
    """Corrections carried from the backtest to the as-of scores (identity when unknown)."""

    logit_shift: float = 0.0
    count_factor: float = 1.0
    note: str = "no drift correction"

    def apply(self, propensity: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return shift_probabilities(propensity, self.logit_shift), expected * self.count_factor


def measure_drift(
    predicted_any: np.ndarray,
    realized_any: np.ndarray,
    predicted_days: np.ndarray,
    realized_days: np.ndarray,
) -> Drift:
    """The (bounded) corrections that would have made the backtest's sums match reality."""
    shift = matching_logit_shift(predicted_any, float(realized_any.sum()))
    factor = float(realized_days.sum()) / max(float(predicted_days.sum()), _EPS)
    shift = float(np.clip(shift, -MAX_LOGIT_SHIFT, MAX_LOGIT_SHIFT))
    factor = float(np.clip(factor, 1 / MAX_COUNT_FACTOR, MAX_COUNT_FACTOR))
    note = f"backtest: purchasers logit shift {shift:+.3f}, order days factor {factor:.3f}"
    return Drift(shift, factor, note)


def shift_probabilities(p: np.ndarray, shift: float) -> np.ndarray:
    """Add `shift` to every probability's logit."""
    return expit(logit(np.clip(p, _EPS, 1 - _EPS)) + shift)


def matching_logit_shift(p: np.ndarray, target: float) -> float:
    """The logit shift that makes sum(p) equal `target` (bounded search)."""
    if len(p) == 0:
        return 0.0
    target = float(np.clip(target, _EPS, len(p) - _EPS))

    def gap(shift: float) -> float:
        return float(shift_probabilities(p, shift).sum()) - target

    low, high = -10.0, 10.0
    if gap(low) > 0:
        return low
    if gap(high) < 0:
        return high
    return float(brentq(gap, low, high, xtol=1e-6))


def rescale_horizon(
    propensity: np.ndarray,
    expected: np.ndarray,
    model: BGNBD,
    summary: Summary,
    trained: int,
    wanted: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Stretch predictions for `trained` days to `wanted` days using the BG/NBD's shape."""
    short_e, long_e = model.expected(summary, trained), model.expected(summary, wanted)
    ratio = np.where(short_e > _EPS, long_e / np.maximum(short_e, _EPS), wanted / trained)
    short_p = np.clip(model.p_any(summary, trained), _EPS, 1 - _EPS)
    long_p = np.clip(model.p_any(summary, wanted), _EPS, 1 - _EPS)
    shift = _cloglog(long_p) - _cloglog(short_p)
    stretched = 1 - np.exp(-np.exp(_cloglog(np.clip(propensity, _EPS, 1 - _EPS)) + shift))
    return stretched, expected * ratio


def _cloglog(p: np.ndarray) -> np.ndarray:
    return np.log(-np.log1p(-p))
