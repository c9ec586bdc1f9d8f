"""Comparison levels per field for arrays of record pairs (the Fellegi-Sunter gamma vectors).

A comparison turns pairs (left[i], right[i]) into one level per pair: -1 when either side is
missing (no evidence either way), 0 for "different", rising to the exact level last. Fuzzy
similarities are computed with rapidfuzz's `cpdist` once per distinct pair of values, so the
cost follows the vocabulary, not the number of pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from profile_assets.identity.features import CodedField, Features

MISSING = -1
Codes = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Comparison:
    """One field's levels. `tf_field` names the coded field whose value frequencies estimate
    chance agreement at the exact level (term-frequency adjustment and collision counts)."""

    name: str
    level_names: tuple[str, ...]
    tf_field: str
    compute: Callable[[Features, np.ndarray, np.ndarray], np.ndarray]

    @property
    def exact_level(self) -> int:
        return len(self.level_names) - 1


def pair_similarity(field: CodedField, a: np.ndarray, b: np.ndarray, scorer) -> np.ndarray:
    """Scorer over value pairs, evaluated once per distinct (a, b) code pair."""
    if len(a) == 0:
        return np.zeros(0)
    width = np.int64(len(field.values))
    unique, inverse = np.unique(a * width + b, return_inverse=True)
    scores = process.cpdist(
        field.values[unique // width], field.values[unique % width], scorer=scorer, workers=-1
    )
    return np.asarray(scores, dtype=np.float64)[inverse]


def _graded(
    field: CodedField, a: np.ndarray, b: np.ndarray, scorer, cutoffs: tuple[float, ...]
) -> np.ndarray:
    """Levels: 0 below the first cutoff, i for the i-th cutoff reached, len+1 for equal codes."""
    out = np.full(len(a), MISSING, dtype=np.int8)
    present = (a >= 0) & (b >= 0)
    exact = present & (a == b)
    fuzzy = present & ~exact
    out[fuzzy] = 0
    if cutoffs:
        sims = pair_similarity(field, a[fuzzy], b[fuzzy], scorer)
        out[fuzzy] = np.searchsorted(np.asarray(cutoffs), sims, side="right")
    out[exact] = len(cutoffs) + 1
    return out


def _names(features: Features, left: np.ndarray, right: np.ndarray) -> tuple[Codes, Codes]:
    """First/last codes per side, with the right side's names swapped where that makes both
    agree exactly (records that put the family name first)."""
    first, last = features.fields["first_name"].codes, features.fields["last_name"].codes
    fa, la, fb, lb = first[left], last[left], first[right], last[right]
    swapped = (fa == lb) & (la == fb) & (fa != la) & (fa >= 0) & (la >= 0)
    fb, lb = np.where(swapped, lb, fb), np.where(swapped, fb, lb)
    return (fa, fb), (la, lb)


def _string_comparison(
    name: str,
    field: str,
    scorer,
    cutoffs: tuple[float, ...],
    labels: tuple[str, ...],
    codes: Callable[[Features, np.ndarray, np.ndarray], Codes] | None = None,
) -> Comparison:
    def compute(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        coded = features.fields[field]
        a, b = codes(features, left, right) if codes else (coded.codes[left], coded.codes[right])
        return _graded(coded, a, b, scorer, cutoffs)

    return Comparison(name, ("different", *labels, "exact"), field, compute)


def _dob(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """exact / near (one mistyped digit, or day and month swapped) / different."""
    coded = features.fields["dob"]
    a, b = coded.codes[left], coded.codes[right]
    out = np.full(len(a), MISSING, dtype=np.int8)
    present = (a >= 0) & (b >= 0)
    exact = present & (a == b)
    other = present & ~exact
    distance = pair_similarity(coded, a[other], b[other], Levenshtein.distance)
    swapped = _day_month_swapped_codes(coded)[a[other]] == b[other]
    out[other] = ((distance <= 1) | swapped).astype(np.int8)
    out[exact] = 2
    return out


def _day_month_swapped_codes(coded: CodedField) -> np.ndarray:
    """For each ISO date value, the code of the same date with day and month swapped (or -1)."""
    swapped = [f"{v[:4]}-{v[8:10]}-{v[5:7]}" for v in coded.values]
    return pd.Index(coded.values).get_indexer(swapped)


def _location(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Same postcode / same city only / different; missing when neither is on both sides."""
    pc, city = features.fields["postcode"].codes, features.fields["city"].codes
    pa, pb, ca, cb = pc[left], pc[right], city[left], city[right]
    has_pc, has_city = (pa >= 0) & (pb >= 0), (ca >= 0) & (cb >= 0)
    out = np.full(len(pa), MISSING, dtype=np.int8)
    out[has_pc | has_city] = 0
    out[has_city & (ca == cb)] = 1
    out[has_pc & (pa == pb)] = 2
    return out


def _exact_only(name: str, field: str) -> Comparison:
    def compute(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        codes = features.fields[field].codes
        return _graded(features.fields[field], codes[left], codes[right], None, ())

    return Comparison(name, ("different", "exact"), field, compute)


def _first_codes(features: Features, left: np.ndarray, right: np.ndarray) -> Codes:
    return _names(features, left, right)[0]


def _last_codes(features: Features, left: np.ndarray, right: np.ndarray) -> Codes:
    return _names(features, left, right)[1]


def default_comparisons() -> tuple[Comparison, ...]:
    """The fields a person record is compared on, weakest evidence first within each."""
    jw = JaroWinkler.normalized_similarity
    return (
        _string_comparison(
            "first_name", "first_name", jw, (0.80, 0.92), ("similar", "close"), _first_codes
        ),
        _string_comparison(
            "last_name", "last_name", jw, (0.80, 0.92), ("similar", "close"), _last_codes
        ),
        _string_comparison(
            "email", "email", Levenshtein.normalized_similarity, (0.85,), ("typo",)
        ),
        _string_comparison(
            "phone", "phone", Levenshtein.normalized_similarity, (0.9,), ("typo",)
        ),
        Comparison("dob", ("different", "near", "exact"), "dob", _dob),
        Comparison("location", ("different", "same_city", "same_postcode"), "postcode", _location),
        _string_comparison(
            "address", "address", fuzz.token_sort_ratio, (70.0, 90.0), ("similar", "close")
        ),
        _exact_only("link_id", "link_id"),
    )


def compare(
    comparisons: tuple[Comparison, ...], features: Features, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Gamma matrix (pairs x comparisons, int8)."""
    gamma = np.empty((len(left), len(comparisons)), dtype=np.int8)
    for k, comparison in enumerate(comparisons):
        gamma[:, k] = comparison.compute(features, left, right)
    return gamma
