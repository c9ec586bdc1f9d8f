"""Orders per golden profile: the input the scoring engine takes, from the warehouse tables.

Staging orders name the source record of their customer; the identity map folds records into
profiles, so a person's orders from every source count together.
"""

from __future__ import annotations

import pandas as pd

from profile_assets.ml.orders import clean_orders


def profile_orders(orders: pd.DataFrame, identity_map: pd.DataFrame) -> pd.DataFrame:
    """Clean orders (`customer_id` = profile id) of live orders whose customer resolves."""
    live = orders[~orders["is_deleted"].astype(bool)] if "is_deleted" in orders else orders
    owners = identity_map[["source", "source_record_id", "profile_id"]].rename(
        columns={"source": "customer_source", "source_record_id": "customer_record_id"}
    )
    joined = live.merge(owners, on=["customer_source", "customer_record_id"])
    frame = pd.DataFrame(
        {
            "customer_id": joined["profile_id"],
            "order_ts": joined["order_ts"],
            "amount": joined["amount"],
            "order_id": joined["source"].astype(str) + ":" + joined["order_id"].astype(str),
        }
    )
    if frame.empty:
        return frame
    return clean_orders(frame).orders
