"""BG/NBD and Pareto/NBD ("buy till you die") models, fitted by maximum likelihood.

Both models see a customer only through the summary (x, t_x, T): repeat order days after the
first, the age at the last order day and the age at the cutoff (Fader, Hardie & Lee 2005,
"Counting your customers the easy way"; Fader & Hardie 2005, "A note on deriving the
Pareto/NBD model and related expressions"). They are the reference the scores are judged
against, and their conditional predictions are strong features for the classifier.

Times are in days. Fitting divides them by a scale (the mean age) so the optimizer works on
numbers near one; the fitted rate parameters are converted back to days. Summaries are
aggregated to unique (x, t_x, T) triples and optionally subsampled, which keeps a fit to well
under a second on hundreds of thousands of customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

#: Customers used for one fit: beyond this the parameter estimates no longer move.
MAX_FIT_CUSTOMERS = 20_000


@dataclass(frozen=True)
class Summary:
    """Per-customer BTYD summary arrays, aligned with `index`."""

    index: pd.Index
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Summary:
        """From a features frame with `frequency`, `recency_days`, `age_days` columns."""
        return cls(
            frame.index,
            frame["frequency"].to_numpy(float),
            frame["recency_days"].to_numpy(float),
            frame["age_days"].to_numpy(float),
        )


@dataclass(frozen=True)
class BGNBD:
    """Fitted BG/NBD: purchase rate ~ Gamma(r, alpha), dropout per purchase ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, s: Summary) -> np.ndarray:
        """P(still active at T): only a repeat buyer can have dropped out (after a purchase)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        log_ratio = (r + s.x) * np.log((alpha + s.T) / (alpha + s.t_x))
        odds = np.where(
            s.x > 0, np.exp(np.log(a) - np.log(b + np.maximum(s.x, 1) - 1) + log_ratio), 0.0
        )
        return 1.0 / (1.0 + odds)

    def expected(self, s: Summary, t: float) -> np.ndarray:
        """E[order days in (T, T+t] | x, t_x, T]."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + s.T + t)
        hyp = hyp2f1(r + s.x, b + s.x, a + b + s.x - 1, z)
        body = 1 - ((alpha + s.T) / (alpha + s.T + t)) ** (r + s.x) * hyp
        value = (a + b + s.x - 1) / (a - 1) * body * self.p_alive(s)
        return np.nan_to_num(np.maximum(value, 0.0), nan=0.0, posinf=0.0)

    def p_any(self, s: Summary, t: float) -> np.ndarray:
        """P(at least one order day in (T, T+t]): alive and the NBD clock ticks at least once."""
        r, alpha = self.r, self.alpha
        p_none_alive = ((alpha + s.T) / (alpha + s.T + t)) ** (r + s.x)
        return self.p_alive(s) * (1 - p_none_alive)


@dataclass(frozen=True)
class ParetoNBD:
    """Fitted Pareto/NBD: purchase rate ~ Gamma(r, alpha), dropout rate ~ Gamma(s, beta)."""

    r: float
    alpha: float
    s: float
    beta: float

    def p_alive(self, su: Summary) -> np.ndarray:
        """P(still active at T | x, t_x, T)."""
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        log_a0 = _pareto_log_a0(r, alpha, s, beta, su)
        log_odds = (
            np.log(s)
            - np.log(r + s + su.x)
            + (r + su.x) * np.log(alpha + su.T)
            + s * np.log(beta + su.T)
            + log_a0
        )
        return 1.0 / (1.0 + np.exp(np.clip(log_odds, -700, 700)))

    def expected(self, su: Summary, t: float) -> np.ndarray:
        """E[order days in (T, T+t] | x, t_x, T]."""
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        rate = (r + su.x) * (beta + su.T) / ((alpha + su.T) * (s - 1))
        value = rate * (1 - ((beta + su.T) / (beta + su.T + t)) ** (s - 1)) * self.p_alive(su)
        return np.nan_to_num(np.maximum(value, 0.0), nan=0.0, posinf=0.0)


def fit_bgnbd(summary: Summary, seed: int = 0) -> BGNBD:
    """Maximum-likelihood BG/NBD (Fader, Hardie & Lee 2005, eq. 6)."""
    x, t_x, T, w, scale = _fit_arrays(summary, seed)

    def negative_ll(theta: np.ndarray) -> float:
        r, alpha, a, b = np.exp(theta)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = betaln(a, b + x) - betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + t_x)
        ll = a1 + a2 + np.where(x > 0, np.logaddexp(a3, a4), a3)
        return _penalized(-(w * ll).sum() / w.sum())

    r, alpha, a, b = _minimize(negative_ll, np.log([1.0, 1.0, 1.0, 3.0]))
    return BGNBD(r=r, alpha=alpha * scale, a=_off_one(a), b=b)


def fit_pareto_nbd(summary: Summary, seed: int = 0) -> ParetoNBD:
    """Maximum-likelihood Pareto/NBD (Fader & Hardie 2005 note, eq. 3, in log space)."""
    x, t_x, T, w, scale = _fit_arrays(summary, seed)
    scaled = Summary(pd.RangeIndex(len(x)), x, t_x, T)

    def negative_ll(theta: np.ndarray) -> float:
        r, alpha, s, beta = np.exp(theta)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        log_a0 = _pareto_log_a0(r, alpha, s, beta, scaled)
        a2 = np.logaddexp(
            -(r + x) * np.log(alpha + T) - s * np.log(beta + T),
            np.log(s) - np.log(r + s + x) + log_a0,
        )
        return _penalized(-(w * (a1 + a2)).sum() / w.sum())

    r, alpha, s, beta = _minimize(negative_ll, np.log([1.0, 1.0, 1.0, 1.0]))
    return ParetoNBD(r=r, alpha=alpha * scale, s=_off_one(s), beta=beta * scale)


def _off_one(value: float) -> float:
    """The expectations divide by (a - 1) resp. (s - 1); they hold on both sides of 1, not at it."""
    return value if abs(value - 1) > 1e-4 else 1 + 1e-4


def _pareto_log_a0(r: float, alpha: float, s: float, beta: float, su: Summary) -> np.ndarray:
    """log A0 of the Pareto/NBD likelihood, taking the hypergeometric branch that converges."""
    if alpha >= beta:
        big, small, second = alpha, beta, s + 1
    else:
        big, small, second = beta, alpha, r + su.x
    rsx = r + s + su.x
    p1 = hyp2f1(rsx, second, rsx + 1, (big - small) / (big + su.t_x))
    p2 = hyp2f1(rsx, second, rsx + 1, (big - small) / (big + su.T))
    q1, q2 = big + su.t_x, big + su.T
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.log(p1) + rsx * np.log(q2)
        other = np.log(p2) + rsx * np.log(q1)
        # log(e^first - e^other), first >= other because t_x <= T.
        diff = first + np.log1p(-np.exp(np.minimum(other - first, 0.0)))
    return diff - rsx * np.log(q1 * q2)


def _fit_arrays(
    summary: Summary, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Subsampled, scaled, de-duplicated (x, t_x, T) with multiplicities as weights."""
    n = len(summary.x)
    if n == 0:
        raise ValueError("cannot fit a BTYD model without customers")
    rows = np.arange(n)
    if n > MAX_FIT_CUSTOMERS:
        rows = np.sort(np.random.default_rng(seed).choice(n, MAX_FIT_CUSTOMERS, replace=False))
    scale = float(max(summary.T[rows].mean(), 1.0))
    triples = pd.DataFrame(
        {"x": summary.x[rows], "t_x": summary.t_x[rows], "T": summary.T[rows]}
    ).value_counts()
    keys = triples.index.to_frame(index=False)
    # A customer first seen on the cutoff has T = 0: give the likelihood a tiny positive age.
    age = np.maximum(keys["T"].to_numpy(float), 0.5) / scale
    last = np.minimum(keys["t_x"].to_numpy(float) / scale, age)
    return keys["x"].to_numpy(float), last, age, triples.to_numpy(float), scale


def _penalized(value: float) -> float:
    """Turn NaN/inf likelihoods (overflowing hypergeometrics) into a large finite loss."""
    return float(value) if np.isfinite(value) else 1e10


def _minimize(objective, start: np.ndarray) -> np.ndarray:
    """Best of L-BFGS-B runs from fixed starts, in clipped log-parameter space.

    The likelihoods are flat along some ridges (BG/NBD's a and b move together), where a
    single simplex run stalls far from the optimum; a few deterministic starts avoid that.
    """

    def bounded(theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):  # overflow is a bad region; _penalized handles it
            return objective(np.clip(theta, -9.0, 9.0))

    best = None
    for offset in (0.0, -1.0, 1.0):
        begin = start + np.array([0.0, 0.0, offset, offset])
        result = minimize(bounded, begin, method="L-BFGS-B", bounds=[(-9.0, 9.0)] * len(start))
        if best is None or result.fun < best.fun:
            best = result
    return np.exp(best.x)
