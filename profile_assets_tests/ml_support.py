"""A small BG/NBD world with known parameters for the scoring-engine tests.

Customers arrive over the first `arrival_days`, buy on a Poisson clock with rate
lambda ~ Gamma(r, alpha) and drop out after each purchase with p ~ Beta(a, b): exactly the
BG/NBD story, so a fit must recover (r, alpha, a, b), and a model must beat recency alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRUE_PARAMS = {"r": 0.5, "alpha": 20.0, "a": 0.8, "b": 2.5}
START = pd.Timestamp("2023-01-01")


def bgnbd_orders(
    n_customers: int, seed: int, span_days: int = 720, arrival_days: int = 360
) -> pd.DataFrame:
    """Orders (`customer_id`, `order_date`, `amount`) of a simulated BG/NBD population."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(TRUE_PARAMS["r"], 1 / TRUE_PARAMS["alpha"], n_customers)
    dropout = rng.beta(TRUE_PARAMS["a"], TRUE_PARAMS["b"], n_customers)
    now = rng.integers(0, arrival_days, n_customers).astype(float)
    owners, times = [np.arange(n_customers)], [now.copy()]
    alive = np.ones(n_customers, bool)
    while alive.any():
        # The first order is the arrival; a customer may drop out only after a repeat order.
        now = now + rng.exponential(1 / rate)
        alive &= now < span_days
        owners.append(np.flatnonzero(alive))
        times.append(now[alive])
        alive &= rng.random(n_customers) > dropout
    owner, when = np.concatenate(owners), np.concatenate(times)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in owner],
            "order_date": START + pd.to_timedelta(np.floor(when), unit="D"),
            "amount": np.round(rng.lognormal(3.0, 0.5, owner.size), 2),
        }
    )


def realized(orders: pd.DataFrame, as_of: str, horizon: int) -> pd.Series:
    """Order days per customer seen by `as_of`, in (as_of, as_of + horizon]."""
    as_of_ts = pd.Timestamp(as_of)
    seen = orders.loc[orders["order_date"] <= as_of_ts, "customer_id"].unique()
    window = orders[
        (orders["order_date"] > as_of_ts)
        & (orders["order_date"] <= as_of_ts + pd.Timedelta(days=horizon))
    ]
    counts = window.drop_duplicates(["customer_id", "order_date"])["customer_id"].value_counts()
    return counts.reindex(seen, fill_value=0)
