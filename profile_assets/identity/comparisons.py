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
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

from profile_assets.identity import nicknames
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


def per_distinct_pair(field: CodedField, a: np.ndarray, b: np.ndarray, func) -> np.ndarray:
    """`func(values_a, values_b)` evaluated once per distinct (a, b) code pair."""
    if len(a) == 0:
        return np.zeros(0)
    width = np.int64(len(field.values))
    unique, inverse = np.unique(a * width + b, return_inverse=True)
    result = func(field.values[unique // width], field.values[unique % width])
    return np.asarray(result)[inverse]


def pair_similarity(field: CodedField, a: np.ndarray, b: np.ndarray, scorer) -> np.ndarray:
    """A rapidfuzz scorer over value pairs (cpdist), once per distinct (a, b) code pair."""
    return per_distinct_pair(
        field, a, b, lambda x, y: process.cpdist(x, y, scorer=scorer, workers=-1)
    ).astype(np.float64)


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


#: Jaro-Winkler at which the other crossed name of a half-swapped pair counts as a typo
#: (the "similar" level of the name comparisons).
_SWAP_TYPO_SIMILARITY = 0.80


def _names(features: Features, left: np.ndarray, right: np.ndarray) -> tuple[Codes, Codes]:
    """First/last codes per side, with the right side's names swapped where the records put
    the family name first: crossed, both names agree exactly, or one agrees exactly and the
    other is close (a typo: "Craig Bladk" ~ "Black Craig"), while straight neither agrees."""
    names = features.fields["first_name"]
    first, last = names.codes, features.fields["last_name"].codes
    fa, la, fb, lb = first[left], last[left], first[right], last[right]
    present = (fa >= 0) & (la >= 0) & (fb >= 0) & (lb >= 0) & (fa != la)
    swapped = present & (fa == lb) & (la == fb)
    half = np.nonzero(present & ~swapped & (fa != fb) & (la != lb) & ((fa == lb) | (la == fb)))[0]
    if len(half):
        close = pair_similarity(
            names, np.where(fa[half] == lb[half], la[half], fa[half]),
            np.where(fa[half] == lb[half], fb[half], lb[half]), JaroWinkler.normalized_similarity,
        )  # fmt: skip
        swapped[half[close >= _SWAP_TYPO_SIMILARITY]] = True
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


DOB_LEVELS = ("different", "year_off_by_one", "day_month_swapped", "one_edit", "exact")


def _dob(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Levels for the ways one birth date gets mistyped, each with its own m and u: the year
    off by one, day and month swapped, one digit mistyped or two transposed."""
    coded = features.fields["dob"]
    a, b = coded.codes[left], coded.codes[right]
    out = _graded(coded, a, b, None, ())
    out[out == 1] = DOB_LEVELS.index("exact")
    other = np.nonzero(out == 0)[0]
    out[other] = per_distinct_pair(coded, a[other], b[other], _date_level)
    return out


def _date_level(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The DOB_LEVELS level of each pair of distinct ISO dates."""
    edits = np.asarray(process.cpdist(x, y, scorer=DamerauLevenshtein.distance, workers=-1))
    x, y = pd.Series(x, dtype=object).str, pd.Series(y, dtype=object).str
    same_year, same_month_day = (x[:4] == y[:4]).to_numpy(), (x[5:] == y[5:]).to_numpy()
    swapped = same_year & (x[5:7] == y[8:]).to_numpy() & (x[8:] == y[5:7]).to_numpy()
    year_gap = np.abs(x[:4].astype(int).to_numpy() - y[:4].astype(int).to_numpy())
    level = np.zeros(len(edits), dtype=np.int8)
    level[same_month_day & (year_gap == 1)] = DOB_LEVELS.index("year_off_by_one")
    level[swapped] = DOB_LEVELS.index("day_month_swapped")
    level[edits <= 1] = DOB_LEVELS.index("one_edit")
    return level


def _exact_only(name: str, field: str) -> Comparison:
    def compute(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        codes = features.fields[field].codes
        return _graded(features.fields[field], codes[left], codes[right], None, ())

    return Comparison(name, ("different", "exact"), field, compute)


def _email(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """exact mailbox / variant (same mailbox name up to dots and +tags, domain equal or one
    typo away: "j.doe+shop@gmial.com") / different. Looser similarity is no evidence: local
    parts are built from names, so namesakes' addresses look alike by construction."""
    coded, local = features.fields["email"], features.fields["email_local"]
    a, b = coded.codes[left], coded.codes[right]
    out = _graded(coded, a, b, None, ())
    out[out == 1] = 2
    other = np.nonzero(out == 0)[0]
    same_local = local.codes[left[other]] == local.codes[right[other]]
    candidates = other[same_local]
    domains = per_distinct_pair(coded, a[candidates], b[candidates], _domain_similarity)
    out[candidates[domains >= 0.8]] = 1
    return out


def _domain_similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    domains_x = np.array([v.rpartition("@")[2] for v in x.tolist()], dtype=object)
    domains_y = np.array([v.rpartition("@")[2] for v in y.tolist()], dtype=object)
    return process.cpdist(domains_x, domains_y, scorer=DamerauLevenshtein.normalized_similarity)


def _first_codes(features: Features, left: np.ndarray, right: np.ndarray) -> Codes:
    return _names(features, left, right)[0]


def _last_codes(features: Features, left: np.ndarray, right: np.ndarray) -> Codes:
    return _names(features, left, right)[1]


FIRST_NAME_LEVELS = ("different", "similar", "close", "variant", "exact")


def _first_name(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Jaro-Winkler levels, plus "variant" for diminutives and prefixes (Bob ~ Robert,
    Jen ~ Jennifer) that string similarity scores as different people."""
    coded = features.fields["first_name"]
    a, b = _first_codes(features, left, right)
    graded = _graded(coded, a, b, JaroWinkler.normalized_similarity, (0.80, 0.92))
    out = np.where(graded == 3, 4, graded).astype(np.int8)
    loose = (graded >= 0) & (graded < 2)
    out[loose] = np.where(
        per_distinct_pair(coded, a[loose], b[loose], nicknames.is_variant), 3, graded[loose]
    )
    return out


def _address_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """token_sort_ratio, but 0 when the house numbers differ: neighbours share a street."""
    scores = process.cpdist(a, b, scorer=fuzz.token_sort_ratio, workers=-1).astype(np.float64)
    numbers_a, numbers_b = _house_numbers(a), _house_numbers(b)
    scores[(numbers_a != "") & (numbers_b != "") & (numbers_a != numbers_b)] = 0.0
    return scores


def _house_numbers(addresses: np.ndarray) -> np.ndarray:
    """First run of digits of each address ("" if none), vectorized."""
    found = pd.Series(addresses, dtype=object).str.extract(r"(\d+)", expand=False)
    return found.fillna("").to_numpy(dtype=object)


LOCATION_LEVELS = (
    "different", "same_city", "postcode_one_edit", "same_postcode", "similar_address",
    "same_address",
)  # fmt: skip


def _location(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """One comparison for where someone lives, since postcode, city and street agree together
    (counting them separately would count one fact three times). Street levels need the
    postcodes not to disagree by more than one typed character."""
    f = features.fields
    pa, pb = f["postcode"].codes[left], f["postcode"].codes[right]
    ca, cb = f["city"].codes[left], f["city"].codes[right]
    sa, sb = f["address"].codes[left], f["address"].codes[right]
    has_pc, has_city, has_street = (
        (pa >= 0) & (pb >= 0),
        (ca >= 0) & (cb >= 0),
        (sa >= 0) & (sb >= 0),
    )
    out = np.full(len(pa), MISSING, dtype=np.int8)
    out[has_pc | has_city | has_street] = 0
    city = np.zeros(len(pa))
    city[has_city] = pair_similarity(
        f["city"], ca[has_city], cb[has_city], JaroWinkler.normalized_similarity
    )
    out[city >= _CITY_TYPO_SIMILARITY] = LOCATION_LEVELS.index("same_city")
    postcode = np.full(len(pa), 9.0)
    postcode[has_pc] = pair_similarity(
        f["postcode"], pa[has_pc], pb[has_pc], DamerauLevenshtein.distance
    )
    out[postcode == 1] = LOCATION_LEVELS.index("postcode_one_edit")
    out[postcode == 0] = LOCATION_LEVELS.index("same_postcode")
    street = np.zeros(len(pa))
    street[has_street] = per_distinct_pair(f["address"], sa[has_street], sb[has_street],
                                           _address_similarity)  # fmt: skip
    same_area = ~has_pc | (postcode <= 1)
    out[same_area & (street >= 70)] = LOCATION_LEVELS.index("similar_address")
    out[same_area & (street >= 90)] = LOCATION_LEVELS.index("same_address")
    return out


#: Jaro-Winkler at which two city names are one city mistyped ("coonawwarra").
_CITY_TYPO_SIMILARITY = 0.92


def default_comparisons() -> tuple[Comparison, ...]:
    """The fields a person record is compared on, weakest evidence first within each."""
    jw = JaroWinkler.normalized_similarity
    return (
        Comparison("first_name", FIRST_NAME_LEVELS, "first_name", _first_name),
        _string_comparison(
            "last_name", "last_name", jw, (0.80, 0.92), ("similar", "close"), _last_codes
        ),
        Comparison("email", ("different", "variant", "exact"), "email", _email),
        _string_comparison("phone", "phone", Levenshtein.normalized_similarity, (0.9,), ("typo",)),
        Comparison("dob", DOB_LEVELS, "dob", _dob),
        Comparison("location", LOCATION_LEVELS, "address", _location),
        _exact_only("link_id", "link_id"),
    )


def _unlike(field: CodedField, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Both names present and clearly not the same name: not a typo (Jaro-Winkler >= 0.7),
    diminutive or prefix of each other."""
    out = (a >= 0) & (b >= 0) & (a != b)
    idx = np.nonzero(out)[0]

    def unlike(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        similar = process.cpdist(x, y, scorer=JaroWinkler.normalized_similarity, workers=-1)
        return (np.asarray(similar) < 0.7) & ~nicknames.is_variant(x, y)

    out[idx] = per_distinct_pair(field, a[idx], b[idx], unlike)
    return out


def first_names_conflict(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """First names clearly unlike, also after trying the other record's names the other way
    round: two members of one household, whatever else they share. The other way round
    means both crossed names alike (where both are present): one crossed look-alike alone
    ("Larry Barr" / "Joel Barr") is a coincidence of short names, not a swap."""
    names = features.fields["first_name"]
    first, last = names.codes, features.fields["last_name"].codes
    fa, fb, la, lb = first[left], first[right], last[left], last[right]

    def alike(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a >= 0) & (b >= 0) & ~_unlike(names, a, b)

    unknown = (la < 0) | (fb < 0)
    crossed_alike = alike(fa, lb) & (alike(la, fb) | unknown)
    return _unlike(names, fa, fb) & ~crossed_alike


def identity_conflict(features: Features, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Pairs that are evidently two people whatever else they share: first names clearly
    unlike, or clearly different birth dates."""
    return first_names_conflict(features, left, right) | (_dob(features, left, right) == 0)


def compare(
    comparisons: tuple[Comparison, ...], features: Features, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Gamma matrix (pairs x comparisons, int8)."""
    gamma = np.empty((len(left), len(comparisons)), dtype=np.int8)
    for k, comparison in enumerate(comparisons):
        gamma[:, k] = comparison.compute(features, left, right)
    return gamma
