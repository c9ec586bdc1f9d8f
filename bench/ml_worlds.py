"""Evaluation data for the scoring engine that is not our sandbox.

- `cdnow`: the CDNOW master file (23,570 customers who first bought in Q1 1997, orders to
  mid-1998), shipped inside the `lifetimes` package; read from disk without importing it.
- `seasonal_cohorts`: a Pareto/NBD world with growing monthly cohorts and a yearly season
  (purchase rate x (1 + 0.5 sin)), i.e. the drift that breaks calibration on real data.
- `regular_shoppers`: not BTYD at all: gamma-distributed (regular) gaps between orders, a
  dropout chance after each order, and purchase frequency rising 30% over the two years.

Each dataset comes with two (as-of, horizon) splits, the second with a horizon longer than
the labelled history before as-of.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

DATASETS = {
    "cdnow": [("1997-09-30", 273), ("1997-12-31", 90)],
    "seasonal_cohorts": [("2023-06-30", 90), ("2021-09-30", 400)],
    "regular_shoppers": [("2023-09-30", 60), ("2022-04-30", 180)],
}


def load_dataset(name: str, seed: int) -> pd.DataFrame:
    loaders = {
        "cdnow": lambda: cdnow(),
        "seasonal_cohorts": lambda: seasonal_cohorts(n_orders=150_000, seed=seed),
        "regular_shoppers": lambda: regular_shoppers(n_customers=15_000, seed=seed),
    }
    return loaders[name]()


def cdnow() -> pd.DataFrame:
    """CDNOW master: customer_id, order_date, amount (lifetimes' copy of Fader-Hardie's file)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install lifetimes (dev extra) for the CDNOW data")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "CDNOW_master.txt"
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "order_date": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["dollar_value"],
        }
    )


def seasonal_cohorts(n_orders: int, seed: int, years: int = 3) -> pd.DataFrame:
    """Pareto/NBD customers arriving at a growing rate, buying with a yearly season."""
    per_customer = _simulate_seasonal(4000, seed, years)["customer_id"].value_counts().mean()
    return _simulate_seasonal(max(int(n_orders / per_customer), 100), seed, years)


def _simulate_seasonal(n: int, seed: int, years: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    span = 365 * years
    # Acquisition grows linearly (1 -> 2.5x) over the span: inverse CDF of a linear density.
    u = rng.random(n)
    growth = 1.5
    arrival = span * (np.sqrt(1 + growth * (2 + growth) * u) - 1) / growth
    rate = rng.gamma(0.8, 1 / 25, n)  # order days per day, mean ~ one a month
    lifetime = rng.exponential(1 / rng.gamma(0.6, 1 / 400, n))
    length = np.minimum(lifetime, span - arrival)
    peak = 1.5
    candidates = rng.poisson(rate * peak * length)
    owner = np.repeat(np.arange(n), candidates)
    when = arrival[owner] + rng.random(owner.size) * length[owner]
    season = 1 + 0.5 * np.sin(2 * np.pi * (when - 250) / 365)
    keep = rng.random(owner.size) < season / peak
    owner = np.concatenate([np.arange(n), owner[keep]])
    when = np.concatenate([arrival, when[keep]])
    return _frame(owner, when, rng, "2021-01-01", "s")


def regular_shoppers(n_customers: int, seed: int) -> pd.DataFrame:
    """Renewal-process shoppers with gamma(4) gaps, per-order dropout and a rising frequency."""
    rng = np.random.default_rng(seed)
    span = 730
    arrival = rng.random(n_customers) * span * 0.9
    mean_gap = rng.lognormal(np.log(25), 0.6, n_customers)
    dropout = rng.beta(1, 12, n_customers)
    owners, times = [np.arange(n_customers)], [arrival.copy()]
    now, alive = arrival.copy(), np.ones(n_customers, bool)
    while alive.any():
        trend = np.exp(-0.3 * now / span)  # gaps shrink by ~26% over the span
        now = now + rng.gamma(4, mean_gap * trend / 4)
        alive &= (now < span) & (rng.random(n_customers) > dropout)
        owners.append(np.flatnonzero(alive))
        times.append(now[alive])
    return _frame(np.concatenate(owners), np.concatenate(times), rng, "2022-01-01", "r")


def _frame(owner: np.ndarray, when: np.ndarray, rng, start: str, prefix: str) -> pd.DataFrame:
    """Orders with timestamps, an order id and a lognormal amount per order."""
    order_ts = pd.Timestamp(start) + pd.to_timedelta(when * 86400, unit="s").round("s")
    frame = pd.DataFrame(
        {
            "order_id": np.arange(owner.size),
            "customer_id": [f"{prefix}{i:07d}" for i in owner],
            "order_ts": order_ts,
            "amount": np.round(rng.lognormal(3.5, 0.7, owner.size), 2),
        }
    )
    frame["order_date"] = frame["order_ts"].dt.floor("D")
    return frame.sort_values(["order_ts", "order_id"]).reset_index(drop=True)
