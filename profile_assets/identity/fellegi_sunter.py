"""Fellegi-Sunter model estimated on the data being resolved: no labels, no tuned threshold.

* u (how often two *different* people agree at a level by chance) comes from random record
  pairs; for the exact level it is counted exactly from value frequencies (pairs sharing a
  value), minus the pairs the model currently believes are matches.
* m (how often the *same* person agrees at a level) and the prior are fitted by EM on the
  candidate pairs.
* The prior is the probability that two random records match, over all n(n-1)/2 pairs. Since
  candidates are a function of the comparison vector, P(match | gamma) is the same for a
  candidate as for any pair with that gamma, so Bayes' rule with this prior is calibrated at
  every data size: the prior shrinks like 1/n while the chance of a namesake grows, which is
  exactly what a fixed score threshold gets wrong.
* At scoring time, exact agreement on a frequent value (John, Smith, 1970-01-01) weighs less
  than agreement on a rare one (term-frequency adjustment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from profile_assets.identity.blocking import pairs_within_groups
from profile_assets.identity.comparisons import MISSING, Comparison
from profile_assets.identity.features import Features, combined_key

_PSEUDO_COUNT = 1.0
_M_BOUNDS = (1e-4, 1 - 1e-4)


@dataclass(frozen=True)
class ModelParameters:
    """Per comparison: m and u per level; the prior match probability over all pairs."""

    comparison_names: tuple[str, ...]
    level_names: tuple[tuple[str, ...], ...]
    m: tuple[np.ndarray, ...]
    u: tuple[np.ndarray, ...]
    prior: float
    iterations: int
    expected_matches: float

    def level_weights(self) -> list[np.ndarray]:
        """log2 Bayes factor per level of each comparison."""
        return [np.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]

    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1 - self.prior)))

    @classmethod
    def from_dict(cls, data: dict) -> ModelParameters:
        """Inverse of `as_dict` (what a run stores so that the next one can reuse it)."""
        comparisons = data["comparisons"]
        levels = [list(per_level.items()) for per_level in comparisons.values()]
        return cls(
            comparison_names=tuple(comparisons),
            level_names=tuple(tuple(name for name, _ in lv) for lv in levels),
            m=tuple(np.array([v["m"] for _, v in lv]) for lv in levels),
            u=tuple(np.array([v["u"] for _, v in lv]) for lv in levels),
            prior=float(data["prior"]),
            iterations=int(data["iterations"]),
            expected_matches=float(data["expected_matches"]),
        )

    def as_dict(self) -> dict:
        """JSON-ready summary for metadata: m, u and weight per level."""
        return {
            "prior": self.prior,
            "prior_weight": self.prior_weight(),
            "iterations": self.iterations,
            "expected_matches": self.expected_matches,
            "comparisons": {
                name: {
                    level: {
                        "m": float(m[i]),
                        "u": float(u[i]),
                        "weight": float(np.log2(m[i] / u[i])),
                    }
                    for i, level in enumerate(levels)
                }
                for name, levels, m, u in zip(
                    self.comparison_names, self.level_names, self.m, self.u, strict=True
                )
            },
        }


@dataclass(frozen=True)
class ChanceAgreement:
    """What random pairs tell about u: level frequencies, and exact-value collision counts."""

    random_level_counts: tuple[np.ndarray, ...]
    collision_pairs: np.ndarray
    comparable_pairs: np.ndarray


def hashed_pairs(record_keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """About `size` (between size/2 and size) pseudo-random record pairs, chosen by the
    records' keys rather than their row positions: every record goes to one of 2**bits
    buckets by a hash of its key, and all pairs inside a bucket are the sample.

    A record's bucket depends on its key alone, so adding records only adds pairs that
    involve the newcomers: the pairs (and the u they estimate) of everyone else stay put,
    and no borderline link elsewhere flips because a sample was re-drawn. When the
    population doubles, `bits` grows by one and every bucket splits in two, so the new
    sample is a subset of the old one rather than a fresh draw.
    """
    n = len(record_keys)
    if n < 2 or size < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # Expected pairs with B buckets: n^2 / (2B); the smallest power of two within `size`.
    bits = min(max(int(np.ceil(np.log2(n * n / (2.0 * size)))), 0), 62)
    hashes = pd.util.hash_array(np.asarray(record_keys, dtype=object))
    bucket = (hashes >> np.uint64(64 - bits)).astype(np.int64) if bits else np.zeros(n, np.int64)
    left, right, _ = pairs_within_groups(bucket, n)
    return left, right


def chance_agreement(
    comparisons: tuple[Comparison, ...], features: Features, random_gamma: np.ndarray
) -> ChanceAgreement:
    counts, collisions, comparable = [], [], []
    for k, comparison in enumerate(comparisons):
        levels = random_gamma[:, k]
        counts.append(np.bincount(levels[levels != MISSING], minlength=len(comparison.level_names)))
        codes = features.fields[comparison.tf_field].codes
        value_counts = np.bincount(codes[codes >= 0]).astype(np.float64)
        present = value_counts.sum()
        collisions.append((value_counts * (value_counts - 1) / 2).sum())
        comparable.append(present * (present - 1) / 2)
    return ChanceAgreement(tuple(counts), np.array(collisions), np.array(comparable))


def estimate(
    comparisons: tuple[Comparison, ...],
    candidate_gamma: np.ndarray,
    chance: ChanceAgreement,
    n_records: int,
    *,
    max_iterations: int,
    tolerance: float,
) -> ModelParameters:
    """EM over the distinct gamma patterns of the candidate pairs (fast: few thousand rows)."""
    patterns, pattern_counts = _distinct_rows(candidate_gamma)
    pattern_counts = pattern_counts.astype(np.float64)
    total_pairs = max(n_records * (n_records - 1) / 2, 1.0)
    sizes = [len(c.level_names) for c in comparisons]
    m = [_initial_m(size) for size in sizes]
    prior = min(0.5 * len(candidate_gamma) / total_pairs, 0.5) or 1e-12
    u = _u_estimate(comparisons, chance, patterns, pattern_counts, np.zeros(len(patterns)))
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        posterior = _posterior(patterns, m, u, prior)
        new_m = _m_step(patterns, pattern_counts * posterior, sizes)
        expected = float((pattern_counts * posterior).sum())
        prior = min(max(expected / total_pairs, 1e-15), 0.5)
        u = _u_estimate(comparisons, chance, patterns, pattern_counts, posterior)
        delta = max(float(np.abs(a - b).max()) for a, b in zip(new_m, m, strict=True))
        m = new_m
        if delta < tolerance:
            break
    posterior = _posterior(patterns, m, u, prior)
    return ModelParameters(
        comparison_names=tuple(c.name for c in comparisons),
        level_names=tuple(c.level_names for c in comparisons),
        m=tuple(m),
        u=tuple(u),
        prior=prior,
        iterations=iterations,
        expected_matches=float((pattern_counts * posterior).sum()),
    )


def _distinct_rows(gamma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct gamma rows and their counts, via one int64 code per row (levels < 15)."""
    if len(gamma) == 0:
        return gamma, np.zeros(0, dtype=np.int64)
    shifted = gamma.astype(np.int64) + 1
    code = np.zeros(len(gamma), dtype=np.int64)
    for k in range(gamma.shape[1]):
        code = code * 16 + shifted[:, k]
    unique, first, counts = np.unique(code, return_index=True, return_counts=True)
    return gamma[first], counts


def _initial_m(levels: int) -> np.ndarray:
    """Start believing matches mostly agree exactly, rarely differ."""
    m = np.geomspace(0.02, 1.0, levels)
    m[-1] = 4 * m[:-1].sum() if levels > 1 else 1.0
    return m / m.sum()


def _posterior(patterns: np.ndarray, m: list, u: list, prior: float) -> np.ndarray:
    weights = [np.log2(mk / uk) for mk, uk in zip(m, u, strict=True)]
    return probability(pattern_weights(patterns, weights) + np.log2(prior / (1 - prior)))


def pattern_weights(gamma: np.ndarray, weights: list[np.ndarray]) -> np.ndarray:
    """Sum of level weights per row; missing comparisons contribute nothing."""
    total = np.zeros(len(gamma))
    for k, w in enumerate(weights):
        levels = gamma[:, k]
        total += np.where(levels == MISSING, 0.0, w[np.maximum(levels, 0)])
    return total


def probability(log2_odds: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp2(-np.clip(log2_odds, -200, 200)))


def _m_step(patterns: np.ndarray, weighted: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    m = []
    for k, size in enumerate(sizes):
        levels = patterns[:, k]
        present = levels != MISSING
        sums = np.bincount(levels[present], weights=weighted[present], minlength=size)
        mk = np.clip((sums + 1e-6) / (sums.sum() + 1e-6 * size), *_M_BOUNDS)
        m.append(mk / mk.sum())
    return m


def _u_estimate(
    comparisons: tuple[Comparison, ...],
    chance: ChanceAgreement,
    patterns: np.ndarray,
    pattern_counts: np.ndarray,
    posterior: np.ndarray,
) -> list[np.ndarray]:
    """u per level: exact level from collisions not explained by matches, the rest from the
    random pairs' non-exact levels, rescaled to fill the remaining probability."""
    u = []
    for k, comparison in enumerate(comparisons):
        exact = comparison.exact_level
        matched_exact = float((pattern_counts * posterior)[patterns[:, k] == exact].sum())
        comparable = max(chance.comparable_pairs[k], 1.0)
        chance_exact = max(chance.collision_pairs[k] - matched_exact, 0.0) + _PSEUDO_COUNT
        u_exact = min(chance_exact / comparable, 0.5)
        others = chance.random_level_counts[k][:exact].astype(np.float64) + _PSEUDO_COUNT
        uk = np.append(others / others.sum() * (1 - u_exact), u_exact)
        u.append(uk)
    return u


@dataclass(frozen=True)
class ValueFrequencies:
    """Per record, how many records of the whole population share its value of each
    term-frequency field (`counts`, over `present` records holding one) and its full name.

    Per record rather than per value so that a slice (`subset`) still weighs agreement by
    the population's frequencies: an incremental run scores a few records that way.
    """

    counts: dict[str, np.ndarray]
    present: dict[str, int]
    full_name: np.ndarray
    full_name_present: int

    def subset(self, rows: np.ndarray) -> ValueFrequencies:
        return ValueFrequencies(
            {name: c[rows] for name, c in self.counts.items()},
            self.present,
            self.full_name[rows],
            self.full_name_present,
        )


def value_frequencies(comparisons: tuple[Comparison, ...], features: Features) -> ValueFrequencies:
    counts, present = {}, {}
    for comparison in comparisons:
        counts[comparison.name], present[comparison.name] = _per_record_counts(
            features.fields[comparison.tf_field].codes
        )
    full_name, full_present = _per_record_counts(
        combined_key(features, ("first_name", "last_name"))
    )
    return ValueFrequencies(counts, present, full_name, full_present)


def _per_record_counts(codes: np.ndarray) -> tuple[np.ndarray, int]:
    held = codes >= 0
    value_counts = np.bincount(codes[held])
    out = np.zeros(len(codes), dtype=np.int64)
    out[held] = value_counts[codes[held]]
    return out, max(int(held.sum()), 1)


def name_chance_share(
    params: ModelParameters,
    comparisons: tuple[Comparison, ...],
    gamma: np.ndarray,
    frequencies: ValueFrequencies,
) -> float:
    """Share of same-full-name pairs that are chance, not one person.

    Records sharing a full name are often one person: only the share of those pairs the
    model does not explain as matches is chance (as for u at the exact level in EM). Needs
    every candidate pair, so it is estimated with the model and stored beside it.
    """
    both = _both_names_exact(comparisons, gamma)
    held = frequencies.full_name > 0
    # Each record of a value held by c records counts 1/c of its c(c-1)/2 pairs.
    collisions = max(float(((frequencies.full_name[held] - 1) / 2).sum()), 1.0)
    matched = probability(
        pattern_weights(gamma[both], params.level_weights()) + params.prior_weight()
    ).sum()
    return max(collisions - matched, 1.0) / collisions


def _both_names_exact(comparisons: tuple[Comparison, ...], gamma: np.ndarray) -> np.ndarray:
    names = [c.name for c in comparisons]
    k_first, k_last = names.index("first_name"), names.index("last_name")
    return (gamma[:, k_first] == comparisons[k_first].exact_level) & (
        gamma[:, k_last] == comparisons[k_last].exact_level
    )


def field_weights(
    params: ModelParameters,
    comparisons: tuple[Comparison, ...],
    frequencies: ValueFrequencies,
    gamma: np.ndarray,
    left: np.ndarray,
    tf_comparisons: tuple[str, ...],
    chance_share: float,
) -> np.ndarray:
    """Weight (log2 Bayes factor) per pair and comparison, exact agreement on the comparisons
    in `tf_comparisons` weighted by how common the agreed value is."""
    level_weights = params.level_weights()
    weights = np.zeros(gamma.shape, dtype=np.float64)
    for k, comparison in enumerate(comparisons):
        levels = gamma[:, k]
        weights[:, k] = np.where(levels == MISSING, 0.0, level_weights[k][np.maximum(levels, 0)])
        if comparison.name not in tf_comparisons:
            continue
        exact = levels == comparison.exact_level
        counts = frequencies.counts[comparison.name]
        u_value = np.maximum(counts[left[exact]], 1) / frequencies.present[comparison.name]
        weights[exact, k] = np.log2(params.m[k][comparison.exact_level] / u_value)
    _joint_name_frequency(params, comparisons, frequencies, gamma, left, weights, chance_share)
    return weights


def _joint_name_frequency(
    params: ModelParameters,
    comparisons: tuple[Comparison, ...],
    frequencies: ValueFrequencies,
    gamma: np.ndarray,
    left: np.ndarray,
    weights: np.ndarray,
    chance_share: float,
) -> None:
    """Where first and last name both agree exactly, weigh the *full name* by its frequency.

    First and last names are not independent (both follow the bearer's language and
    origin), so multiplying their separate frequencies makes "Alfredo Bachmann" look far
    rarer than it is among people who share a country. The count of the full name, times
    the share of same-name pairs that are chance (`name_chance_share`), is the honest chance
    that someone else bears it. In place; each column gets half.
    """
    names = [c.name for c in comparisons]
    k_first, k_last = names.index("first_name"), names.index("last_name")
    first, last = comparisons[k_first], comparisons[k_last]
    both = _both_names_exact(comparisons, gamma)
    present = frequencies.full_name_present
    u_joint = np.maximum(frequencies.full_name[left[both]], 1) / present * chance_share
    m_joint = params.m[k_first][first.exact_level] * params.m[k_last][last.exact_level]
    half = np.log2(m_joint / u_joint) / 2
    weights[both, k_first] = half
    weights[both, k_last] = half
