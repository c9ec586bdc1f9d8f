"""Keeping the sums honest: the level of the scores, and horizon rescaling.

Level (drift). A model trained on past cutoffs is calibrated for the past: when the purchase
rate trends between the training cutoffs and the as-of date (a cohort ageing, customers older
than any training cutoff saw), a tree model's level is off even if its ranking is good, because
trees extrapolate flat. So the level comes from the BTYD side instead: the count model learns a
time-invariant correction f(x) to the BG/NBD fitted at the as-of date (which models ageing and
dropout explicitly), the implied purchasers are 1 - (1 - P_bg)^f per customer, and the
classifier's probabilities are shifted in logit space (order and bounds kept) until their sum
matches. (A backtest-based drift factor was tried and rejected: on seasonal data the newest
training window is a different season from the horizon, and the factor made sums worse.)

Horizon. When the requested horizon is longer than the labelled history, the models predict
for the longest trainable horizon and `rescale_horizon` stretches each customer's prediction by
what the BG/NBD fitted at the as-of date says about that customer's longer window:
expected days by the ratio E_bg(N)/E_bg(h), probabilities by the shift of cloglog(P_bg) (for a
Poisson clock cloglog(P) = log(rate * t), so this is exact when the rate is constant and keeps
the BG/NBD's dropout otherwise).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, logit

from profile_assets.ml.btyd import BGNBD, Summary

_EPS = 1e-6


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


def implied_p_any(btyd_p_any: np.ndarray, correction: np.ndarray) -> np.ndarray:
    """P(any order day) when the BG/NBD's intensity is multiplied by `correction`.

    For a Poisson clock -log(1 - P) scales with the intensity, so P = 1 - (1 - P_bg)^correction.
    """
    return 1 - (1 - np.clip(btyd_p_any, 0, 1 - _EPS)) ** np.asarray(correction, float)


def anchor(propensity: np.ndarray, implied: np.ndarray) -> np.ndarray:
    """Logit-shift the classifier's probabilities so their sum equals sum(implied).

    The classifier keeps its ranking; the level comes from the BTYD side, which extrapolates
    in time (ageing cohorts, customers older than any training cutoff saw) where trees cannot.
    """
    return shift_probabilities(propensity, matching_logit_shift(propensity, float(implied.sum())))


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
