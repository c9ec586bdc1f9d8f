"""Candidate pairs -> calibrated match probabilities: the model (m, u, prior) estimated by EM
on the records being resolved, then every pair weighed with term frequencies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from profile_assets.identity import fellegi_sunter
from profile_assets.identity.comparisons import Comparison, compare, default_comparisons
from profile_assets.identity.features import Features
from profile_assets.identity.results import ResolutionState
from profile_assets.identity.settings import ResolutionSettings


def estimate(
    comparisons: tuple[Comparison, ...],
    features: Features,
    gamma: np.ndarray,
    settings: ResolutionSettings,
) -> fellegi_sunter.ModelParameters:
    n = features.n
    # Enough random pairs to see chance agreement at the rates that matter (~1e-4) without
    # the sample dwarfing a small data set; all pairs when there are fewer. Drawn by record
    # key, not position, so that adding records does not re-draw everyone else's sample.
    sample = min(settings.u_sample_pairs, max(20 * n, 20_000))
    left, right = fellegi_sunter.hashed_pairs(features.record_keys, sample)
    random_gamma = compare(comparisons, features, left, right)
    chance = fellegi_sunter.chance_agreement(comparisons, features, random_gamma)
    return fellegi_sunter.estimate(
        comparisons,
        gamma,
        chance,
        n,
        max_iterations=settings.em_max_iterations,
        tolerance=settings.em_tolerance,
    )


@dataclass(frozen=True)
class Scores:
    weights: np.ndarray
    log2_odds: np.ndarray
    probability: np.ndarray


def score(
    state: ResolutionState,
    comparisons: tuple[Comparison, ...],
    frequencies: fellegi_sunter.ValueFrequencies,
    gamma: np.ndarray,
    left: np.ndarray,
    settings: ResolutionSettings,
) -> Scores:
    weights = fellegi_sunter.field_weights(
        state.model, comparisons, frequencies, gamma, left, settings.term_frequency_fields,
        state.name_chance_share,
    )  # fmt: skip
    log2_odds = state.model.prior_weight() + weights.sum(axis=1)
    return Scores(weights, log2_odds, fellegi_sunter.probability(log2_odds))


def score_pairs(
    state: ResolutionState,
    frequencies: fellegi_sunter.ValueFrequencies,
    features: Features,
    left: np.ndarray,
    right: np.ndarray,
    settings: ResolutionSettings,
) -> tuple[np.ndarray, Scores]:
    comparisons = default_comparisons()
    gamma = compare(comparisons, features, left, right)
    return gamma, score(state, comparisons, frequencies, gamma, left, settings)
