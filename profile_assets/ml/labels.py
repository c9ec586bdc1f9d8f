"""Labels from the window after a cutoff: what each customer did in (cutoff, cutoff + horizon].

Kept apart from features on purpose: features read only days <= cutoff, labels only days
after it, so the two halves of a training row cannot mix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profile_assets.ml.features import OrderDays


def order_day_counts(days: OrderDays, cutoff: int, horizon: int, customers: pd.Index) -> pd.Series:
    """Distinct order days in (cutoff, cutoff + horizon] per customer in `customers` (0 if none)."""
    window = (days.day > cutoff) & (days.day <= cutoff + horizon)
    counts = np.bincount(days.code[window], minlength=len(days.customers))
    per_customer = pd.Series(counts.astype(float), index=days.customers)
    return per_customer.reindex(customers, fill_value=0.0)
