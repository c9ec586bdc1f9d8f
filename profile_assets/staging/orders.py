"""staging.orders: CRM won deals, storefront orders and partner file orders."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from profile_assets.staging.extract import (
    Extract,
    Problems,
    Staged,
    as_bools,
    as_ids,
    as_numbers,
    first_id,
    require_time,
    stage_sources,
)
from profile_assets.staging.tables import (
    ORDERS,
)

ORDER_SOURCES = ("crm_deals", "storefront_orders", "file_orders")
# Which staging.contacts source an order's customer id refers to.
ORDER_CUSTOMER_SOURCE = {
    "crm_deals": "crm_contacts",
    "storefront_orders": "storefront_customers",
    "file_orders": "file_contacts",
}
WON_DEAL_STAGE = "closedwon"


def _crm_orders(ext: Extract) -> tuple[dict[str, pd.Series], pd.Series]:
    stage = ext.column("dealstage").astype("string").str.strip().str.lower()
    return (
        {
            "order_id": ext.record_ids,
            "customer_record_id": first_id(ext.column("customer_id")),
            "order_ts": ext.utc("order_ts"),
            "status": stage,
            "is_deleted": as_bools(ext.column("archived"), False),
        },
        (stage == WON_DEAL_STAGE).fillna(False).astype(bool),
    )


def _storefront_orders(ext: Extract) -> tuple[dict[str, pd.Series], pd.Series]:
    return (
        {
            "order_id": ext.record_ids,
            "customer_record_id": as_ids(ext.column("customer_id")),
            "order_ts": ext.utc("order_ts"),
            "status": ext.column("status").astype("string").str.strip().str.lower(),
            "is_deleted": pd.Series(False, index=ext.data.index),
        },
        pd.Series(True, index=ext.data.index),
    )


def _file_orders(ext: Extract) -> tuple[dict[str, pd.Series], pd.Series]:
    return (
        {
            "order_id": ext.record_ids,
            "customer_record_id": as_ids(ext.column("customer_id")),
            "order_ts": ext.utc("order_ts"),
            "status": pd.Series("completed", index=ext.data.index),
            "is_deleted": pd.Series(False, index=ext.data.index),
        },
        pd.Series(True, index=ext.data.index),
    )


_ORDER_ADAPTERS = {
    "crm_deals": _crm_orders,
    "storefront_orders": _storefront_orders,
    "file_orders": _file_orders,
}


def order_rows(ext: Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, Problems]:
    """staging.orders columns for one order source; rows that are not orders are dropped
    (their count is reported as skipped by the caller)."""
    fields, is_order = _ORDER_ADAPTERS[ext.table](ext)
    raw_amount = ext.column("amount")
    amount = as_numbers(raw_amount)
    currency = ext.column("currency").astype("string").str.strip().str.upper()
    rows = pd.DataFrame(
        {
            "source": ext.table,
            "customer_source": ORDER_CUSTOMER_SOURCE[ext.table],
            **fields,
            "amount": amount,
            "currency": currency,
        }
    )
    rows["is_deleted"] = rows["is_deleted"] | ext.deleted
    problems = Problems(rows.index)
    require_time(problems, rows["order_ts"], ext.column("order_ts"), "order_ts", now)
    problems.add(rows["customer_record_id"].isna(), "no customer id (or associated contact)")
    problems.add(raw_amount.isna(), "amount missing")
    problems.add(amount.isna() & raw_amount.notna(), "amount is not a number", raw_amount)
    problems.add(amount < 0, "amount is negative", raw_amount)
    valid_currency = currency.str.fullmatch(r"[A-Z]{3}").fillna(False).astype(bool)
    problems.add(~valid_currency, "currency is not an ISO 4217 code", currency)
    rows["_keep"] = is_order  # open or lost deals are not orders: skipped
    return rows, problems


def stage_orders(raws: Mapping[str, pd.DataFrame], *, now: pd.Timestamp) -> Staged:
    """staging.orders from any subset of `ORDER_SOURCES`; only won CRM deals are orders."""
    return stage_sources(ORDERS, raws, ORDER_SOURCES, order_rows, now=now)
