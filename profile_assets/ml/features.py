"""Per-customer features as of a cutoff day, from order days on or before it only.

Everything here filters `day <= cutoff` first, so an order after the cutoff cannot change a
feature (the leakage test changes only later orders and compares). The same function builds
the rolling-origin training rows (cutoffs before the as-of date) and the rows scored at the
as-of date, which is what makes training and scoring agree.

Features, all in days:
- BTYD summary: `frequency` (repeat order days), `recency_days` (first to last order day),
  `age_days` (first order day to cutoff), `days_since_last`.
- Rates and rhythm: `rate` (repeat days per day of age), `mean_gap`/`std_gap` between order
  days, `overdue` (days since last / mean gap), order days in the last 30/90/365 days and in
  the last horizon-length window.
- Spend: total and mean amount per order day (NaN when the file has no amounts).
- BTYD (`btyd_features`): BG/NBD P(alive), expected order days and P(any order day) in the
  horizon, Pareto/NBD P(alive) and expected order days — the strongest single predictors of
  what comes next. The models' four population parameters are fitted once, on all history up
  to the as-of date, and shared by every cutoff (see `training`); each customer's values use
  only that customer's orders up to the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from profile_assets.ml.btyd import BGNBD, ParetoNBD, Summary, fit_bgnbd, fit_pareto_nbd

#: Fixed look-back windows (days) for recent-activity counts.
WINDOWS = (30, 90, 365)


@dataclass(frozen=True)
class OrderDays:
    """Orders collapsed to one row per customer and day, with integer codes for speed.

    `day` counts days since 1970-01-01; `customers[code]` is the customer id.
    """

    customers: pd.Index
    code: np.ndarray
    day: np.ndarray
    amount: np.ndarray

    @classmethod
    def from_orders(cls, orders: pd.DataFrame) -> OrderDays:
        """From clean orders (`customer_id`, `order_date`, `amount`), sorted by customer, day."""
        day = orders["order_date"].to_numpy("datetime64[D]").astype(np.int64)
        codes, customers = pd.factorize(orders["customer_id"], sort=True)
        per_day = (
            pd.DataFrame({"code": codes, "day": day, "amount": orders["amount"].to_numpy(float)})
            .groupby(["code", "day"], sort=True)["amount"]
            .sum(min_count=1)
            .reset_index()
        )
        return cls(
            pd.Index(customers, name="customer_id"),
            per_day["code"].to_numpy(np.int64),
            per_day["day"].to_numpy(np.int64),
            per_day["amount"].to_numpy(float),
        )

    def until(self, cutoff: int) -> OrderDays:
        """Only the order days on or before `cutoff` (the point-in-time view)."""
        keep = self.day <= cutoff
        return OrderDays(self.customers, self.code[keep], self.day[keep], self.amount[keep])

    @property
    def first_day(self) -> int:
        return int(self.day.min())

    @property
    def last_day(self) -> int:
        return int(self.day.max())


def to_day(timestamp: str | pd.Timestamp) -> int:
    """A date as days since 1970-01-01, the unit `OrderDays` uses."""
    return int(np.datetime64(pd.Timestamp(timestamp).date(), "D").astype(np.int64))


def base_features(days: OrderDays, cutoff: int, horizon: int) -> pd.DataFrame:
    """RFM, rhythm and spend features of every customer with an order day <= cutoff."""
    seen = days.until(cutoff)
    frame = pd.DataFrame({"code": seen.code, "day": seen.day, "amount": seen.amount})
    grouped = frame.groupby("code", sort=True)
    first, last = grouped["day"].min(), grouped["day"].max()
    n_days = grouped.size()
    gaps = frame["day"].diff().where(frame["code"].eq(frame["code"].shift()))
    gap_std = gaps.groupby(frame["code"]).std()

    out = pd.DataFrame(index=first.index)
    out["frequency"] = (n_days - 1).astype(float)
    out["recency_days"] = (last - first).astype(float)
    out["age_days"] = (cutoff - first).astype(float)
    out["days_since_last"] = (cutoff - last).astype(float)
    out["rate"] = out["frequency"] / out["age_days"].where(out["age_days"] > 0)
    out["mean_gap"] = out["recency_days"] / out["frequency"].where(out["frequency"] > 0)
    out["std_gap"] = gap_std.reindex(out.index)
    out["overdue"] = out["days_since_last"] / out["mean_gap"]
    windows = {f"days_last_{w}": w for w in WINDOWS} | {"days_last_horizon": horizon}
    for name, window in windows.items():
        recent = frame["day"] > cutoff - window
        out[name] = recent.groupby(frame["code"]).sum().astype(float)
    out["amount_total"] = grouped["amount"].sum(min_count=1)
    out["amount_mean"] = out["amount_total"] / n_days
    out.index = days.customers[out.index]
    return out


@dataclass(frozen=True)
class Btyd:
    """The two fitted BTYD models the features come from."""

    bgnbd: BGNBD
    pareto: ParetoNBD

    @classmethod
    def fit(cls, frame: pd.DataFrame, seed: int) -> Btyd:
        """Fit both on a features frame's (frequency, recency_days, age_days)."""
        summary = Summary.from_frame(frame)
        return cls(fit_bgnbd(summary, seed), fit_pareto_nbd(summary, seed))


def btyd_features(frame: pd.DataFrame, models: Btyd, horizon: int) -> pd.DataFrame:
    """Add the BG/NBD and Pareto/NBD customer-level predictions for the horizon to `frame`."""
    summary = Summary.from_frame(frame)
    out = frame.copy()
    out["bg_p_alive"] = models.bgnbd.p_alive(summary)
    out["bg_expected"] = models.bgnbd.expected(summary, horizon)
    out["bg_p_any"] = models.bgnbd.p_any(summary, horizon)
    out["pn_p_alive"] = models.pareto.p_alive(summary)
    out["pn_expected"] = models.pareto.expected(summary, horizon)
    return out
