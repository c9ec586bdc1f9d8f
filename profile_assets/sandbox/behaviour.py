"""Latent behaviour model: who is engaged, who is drifting away, and when things happen.

Each person gets hidden traits (engagement level, engagement trend, dissatisfaction, cart
abandonment propensity) and a churn time drawn from a hazard that depends on those traits and on
tenure. Events (web days, carts, deals, tickets, offline orders) are Poisson counts per 30-day
bin with an intensity driven by the traits, and they stop at churn. Because the hazard depends
on traits that only *noisy behaviour* reveals (a falling trend, bad support ratings, abandoned
carts, short tenure), churn after the cutoff is learnable from pre-cutoff behaviour, but days
since the last order alone only sees part of it.

Times are float days relative to the world's `as_of` (negative = past); the world turns them into
timestamps at the very end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

AS_OF = pd.Timestamp("2026-10-01T00:00:00Z")  # the world's "now", the same for every seed
SOURCE_TIMEZONES: dict[str, str] = {
    "crm": "UTC",  # HubSpot: ISO-8601 UTC with milliseconds
    "support": "UTC",  # Zendesk: ISO-8601 UTC seconds
    "web": "America/Los_Angeles",  # GA4 property time zone for `date`
    "storefront": "America/New_York",  # Postgres timestamp without time zone, store local
    "file": "Europe/London",  # partner file drops, naive local time
}
SECOND = 1.0 / 86400.0  # in days
BIN_DAYS = 30
N_BINS = 25  # 750 days of history before as_of
HISTORY_DAYS = BIN_DAYS * N_BINS
WINDOW_DAYS = 90  # cutoff = as_of - 90 days; labels come from (cutoff, as_of]
_EARLIEST_SIGNUP = -1100.0
_LATEST_SIGNUP = -20.0
_EARLY_TENURE_DAYS = 180.0
_EARLY_TENURE_FACTOR = 2.5
_BASE_HAZARD_PER_YEAR = 0.40
_FADE_DAYS = 180.0
_FADE_DEPTH = 0.85


@dataclass(frozen=True)
class Events:
    """One row per event: the person (position in the people arrays) and the day it happened."""

    person: np.ndarray  # int64 positions, sorted by person then day
    day: np.ndarray  # float64 days relative to as_of

    def __len__(self) -> int:
        return len(self.person)

    def take(self, mask: np.ndarray) -> Events:
        return Events(self.person[mask], self.day[mask])


def draw_traits(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Hidden per-person traits plus signup and churn days (inf = not churned by as_of)."""
    engagement = np.exp(rng.normal(0.0, 0.6, n))
    trend = rng.normal(-0.15, 0.5, n)  # log-rate change per year
    dissatisfaction = rng.beta(1.0, 5.0, n)
    abandon = rng.beta(2.0, 3.0, n)
    log_hazard = (
        np.log(_BASE_HAZARD_PER_YEAR)
        - 0.45 * np.log(engagement)
        - 1.2 * trend
        + 7.0 * (dissatisfaction - 1 / 6)
        + 3.5 * (abandon - 0.4)
        + rng.normal(0.0, 0.3, n)
    )
    hazard = np.exp(log_hazard) / 365.0  # per day
    signup = rng.uniform(_EARLIEST_SIGNUP, _LATEST_SIGNUP, n)
    churn = signup + _time_to_churn(rng, hazard)
    churn[churn > 0] = np.inf
    return pd.DataFrame(
        {
            "engagement": engagement,
            "engagement_trend": trend,
            "dissatisfaction": dissatisfaction,
            "abandon_propensity": abandon,
            "churn_hazard": hazard * 365.0,
            "signup_day": signup,
            "churn_day": churn,
        }
    )


def _time_to_churn(rng: np.random.Generator, hazard: np.ndarray) -> np.ndarray:
    """Piecewise-constant hazard: new customers churn faster during their first months."""
    budget = rng.exponential(1.0, len(hazard))
    early_rate = hazard * _EARLY_TENURE_FACTOR
    early_budget = early_rate * _EARLY_TENURE_DAYS
    return np.where(
        budget < early_budget,
        budget / early_rate,
        _EARLY_TENURE_DAYS + (budget - early_budget) / hazard,
    )


def draw_events(
    rng: np.random.Generator,
    traits: pd.DataFrame,
    members: np.ndarray,
    rate_per_month: float | np.ndarray,
    engagement_power: float = 1.0,
    start_day: np.ndarray | None = None,
) -> Events:
    """Poisson events per 30-day bin for `members` (person positions) while they are active.

    Intensity = rate * engagement**power * exp(trend * years from cutoff), times the fraction of
    the bin the person is active (after signup or `start_day`, before churn). Event days are
    uniform over that active part of the bin.
    """
    members = np.asarray(members, dtype=np.int64)
    engagement = traits["engagement"].to_numpy()[members]
    trend = traits["engagement_trend"].to_numpy()[members]
    start = traits["signup_day"].to_numpy()[members]
    if start_day is not None:
        start = np.maximum(start, start_day)
    start = np.maximum(start, -HISTORY_DAYS)
    end_churn = traits["churn_day"].to_numpy()[members]
    end = np.minimum(end_churn, 0.0)
    rate = np.broadcast_to(np.asarray(rate_per_month, dtype=np.float64), members.shape)
    persons, days = [], []
    for b in range(N_BINS):
        lo = -HISTORY_DAYS + b * BIN_DAYS
        hi = lo + BIN_DAYS
        active_lo = np.maximum(start, lo)
        active = np.clip(np.minimum(end, hi) - active_lo, 0.0, None)
        years = (lo + BIN_DAYS / 2 + WINDOW_DAYS) / 365.0
        fading = _pre_churn_fading(end_churn - (active_lo + active / 2))
        lam = (
            rate
            * engagement**engagement_power
            * np.exp(trend * years)
            * fading
            * (active / BIN_DAYS)
        )
        counts = rng.poisson(lam)
        hit = np.flatnonzero(counts)
        rep = np.repeat(hit, counts[hit])
        persons.append(members[rep])
        days.append(active_lo[rep] + rng.random(len(rep)) * active[rep])
    person = np.concatenate(persons)
    day = np.concatenate(days)
    order = np.lexsort((day, person))
    return Events(person[order], day[order])


def _pre_churn_fading(days_before_churn: np.ndarray) -> np.ndarray:
    """Activity fades over the months before churn (people drift away, they rarely vanish)."""
    closeness = np.clip(1.0 - days_before_churn / _FADE_DAYS, 0.0, 1.0)
    return 1.0 - _FADE_DEPTH * closeness


def churn_labels(traits: pd.DataFrame) -> pd.DataFrame:
    """Churn in (cutoff, as_of] among people active at the cutoff (signed up, not yet churned)."""
    churn = traits["churn_day"].to_numpy()
    signup = traits["signup_day"].to_numpy()
    return pd.DataFrame(
        {
            "churned": (churn > -WINDOW_DAYS) & (churn <= 0),
            "active_at_cutoff": (signup <= -WINDOW_DAYS) & (churn > -WINDOW_DAYS),
        }
    )


def to_timestamps(days: np.ndarray) -> pd.Series:
    """Float days relative to AS_OF -> UTC timestamps at whole seconds (inf -> NaT)."""
    days = np.asarray(days, dtype=np.float64)
    finite = np.isfinite(days)
    seconds = np.round(np.where(finite, days, 0.0) * 86400.0).astype(np.int64)
    ns = AS_OF.value + seconds * 1_000_000_000
    ns[~finite] = np.iinfo(np.int64).min  # NaT
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC")


def days_since_as_of(timestamps: pd.Series) -> np.ndarray:
    """UTC timestamps -> float days relative to AS_OF (NaT -> inf)."""
    days = ((timestamps - AS_OF) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    return np.where(np.isnan(days), np.inf, days)
