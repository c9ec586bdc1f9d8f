"""staging.web_activity, staging.tickets and staging.carts: what people do, by day,
ticket and cart."""

from __future__ import annotations

import pandas as pd

from profile_assets.quarantine.rejections import Rejection
from profile_assets.staging.extract import (
    Extract,
    Problems,
    Staged,
    as_dates,
    as_ids,
    as_numbers,
    extract,
    finish_table,
    require_time,
    schema_version,
    stage_sources,
)
from profile_assets.staging.tables import (
    CARTS,
    TICKETS,
    WEB_ACTIVITY,
)

TICKET_STATUSES = frozenset({"new", "open", "pending", "solved", "closed", "deleted"})
CART_STATUSES = frozenset({"open", "converted", "abandoned"})
RATINGS = frozenset({"good", "bad"})


WEB_COUNTS = {
    "sessions": "sessions",
    "pageviews": "page_views",
    "cart_adds": "add_to_carts",
    "purchases": "purchases",
}


def web_rows(ext: Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, Problems]:
    """One row per raw visitor-day (summed per customer and day by `stage_web_activity`)."""
    raw_date = ext.column("activity_date")
    day = as_dates(raw_date)
    rows = pd.DataFrame(
        {
            "customer_record_id": as_ids(ext.column("customer_id")),
            "activity_date": day,
            **{out: as_numbers(ext.column(name)) for name, out in WEB_COUNTS.items()},
            "revenue": as_numbers(ext.column("revenue")),
        }
    )
    rows[["purchases", "revenue"]] = rows[["purchases", "revenue"]].fillna(0)
    problems = Problems(rows.index)
    problems.add(day.isna(), "date missing or unreadable", raw_date)
    problems.add(day > now.tz_convert("UTC").tz_localize(None), "date in the future")
    for column in [*WEB_COUNTS.values(), "revenue"]:
        problems.add(rows[column].isna(), f"{column} missing or not a number")
        problems.add(rows[column] < 0, f"{column} is negative")
    rows["_keep"] = ~ext.deleted
    return rows, problems


def stage_web_activity(raw: pd.DataFrame, *, now: pd.Timestamp) -> Staged:
    """staging.web_activity: GA4 visitor-days summed per storefront customer and day.

    Anonymous visitors (no user id) are kept, summed into one null-customer row per day.
    """
    staged = stage_sources(
        WEB_ACTIVITY, {"web_user_days": raw}, ("web_user_days",), web_rows, now=now, type_=False
    )
    counts = [*WEB_COUNTS.values(), "revenue"]
    per_day = staged.frame.groupby(
        ["customer_record_id", "activity_date"], dropna=False, sort=True
    )[counts].sum()
    frame = per_day.reset_index()
    staged.frame = finish_table(frame, WEB_ACTIVITY, schema_version())
    staged.skipped["anonymous_visitor_days"] = int(frame["customer_record_id"].isna().sum())
    return staged


# --------------------------------------------------------------------------- tickets
def ticket_rows(ext: Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, Problems]:
    status = ext.column("status").astype("string").str.strip().str.lower()
    rating = ext.column("satisfaction").astype("string").str.strip().str.lower()
    rows = pd.DataFrame(
        {
            "source_record_id": ext.record_ids,
            "requester_record_id": as_ids(ext.column("customer_id")),
            "status": status,
            "created_at": ext.utc("created_at"),
            "updated_at": ext.utc("updated_at"),
            "satisfaction": rating.where(rating.isin(RATINGS)),
            "is_deleted": ext.deleted | (status == "deleted").fillna(False),
        }
    )
    problems = Problems(rows.index)
    require_time(problems, rows["created_at"], ext.column("created_at"), "created_at", now)
    require_time(problems, rows["updated_at"], ext.column("updated_at"), "updated_at", now)
    problems.add(rows["requester_record_id"].isna(), "requester_id missing")
    problems.add(~status.isin(TICKET_STATUSES).fillna(False), "unknown status", status)
    return rows, problems


def stage_tickets(raw: pd.DataFrame, *, now: pd.Timestamp) -> Staged:
    return stage_sources(
        TICKETS, {"support_tickets": raw}, ("support_tickets",), ticket_rows, now=now
    )


# --------------------------------------------------------------------------- carts
def cart_rows(ext: Extract, now: pd.Timestamp) -> tuple[pd.DataFrame, Problems]:
    status = ext.column("status").astype("string").str.strip().str.lower()
    rows = pd.DataFrame(
        {
            "cart_id": ext.record_ids,
            "customer_record_id": as_ids(ext.column("customer_id")),
            "status": status,
            "created_at": ext.utc("created_at"),
            "updated_at": ext.utc("updated_at"),
        }
    )
    problems = Problems(rows.index)
    require_time(problems, rows["created_at"], ext.column("created_at"), "created_at", now)
    require_time(problems, rows["updated_at"], ext.column("updated_at"), "updated_at", now)
    problems.add(~status.isin(CART_STATUSES).fillna(False), "unknown status", status)
    rows["_keep"] = ~ext.deleted  # a deleted cart is no longer a cart: skipped
    return rows, problems


def cart_totals(items: pd.DataFrame) -> tuple[pd.DataFrame, list[Rejection]]:
    """Item count and value per cart id from live cart items; items with a negative or
    missing quantity or price count for nothing and are quarantined."""
    ext = extract("storefront_cart_items", items)
    quantity = as_numbers(ext.column("quantity"))
    price = as_numbers(ext.column("unit_price"))
    problems = Problems(ext.data.index)
    problems.add(quantity.isna(), "quantity missing or not a number", ext.column("quantity"))
    problems.add(quantity < 0, "quantity is negative", quantity)
    problems.add(price.isna(), "unit_price missing or not a number", ext.column("unit_price"))
    problems.add(price < 0, "unit_price is negative", price)
    counted = ~ext.deleted & ~problems.bad
    frame = pd.DataFrame(
        {
            "cart_id": as_ids(ext.column("cart_id")),
            "items": quantity.where(counted, 0),
            "cart_value": (quantity * price).where(counted, 0),
        }
    )
    totals = frame.groupby("cart_id")[["items", "cart_value"]].sum()
    return totals, problems.rejections(ext, rows=~ext.deleted)


def converted_orders(orders: pd.DataFrame) -> pd.Series:
    """cart id -> id of the latest live storefront order placed from it."""
    ext = extract("storefront_orders", orders)
    frame = pd.DataFrame(
        {
            "cart_id": as_ids(ext.column("cart_id")),
            "order_id": ext.record_ids,
            "order_ts": ext.utc("order_ts"),
        }
    )[~ext.deleted]
    frame = frame.dropna(subset=["cart_id"]).sort_values("order_ts", kind="stable")
    return frame.drop_duplicates("cart_id", keep="last").set_index("cart_id")["order_id"]


def stage_carts(
    carts: pd.DataFrame, items: pd.DataFrame, orders: pd.DataFrame, *, now: pd.Timestamp
) -> Staged:
    """staging.carts: live carts with item count, value and the order they became."""
    staged = stage_sources(
        CARTS, {"storefront_carts": carts}, ("storefront_carts",), cart_rows, now=now, type_=False
    )
    totals, bad_items = cart_totals(items)
    staged.rejections += bad_items
    staged.read += len(items)
    frame = staged.frame.join(totals, on="cart_id")
    frame[["items", "cart_value"]] = frame[["items", "cart_value"]].fillna(0)
    frame["items"] = frame["items"].round().astype("int64")
    frame["converted_order_id"] = frame["cart_id"].map(converted_orders(orders))
    staged.frame = finish_table(frame, CARTS, schema_version())
    return staged
