"""Derived fields are computed as of a timestamp, per record or per entity, without leakage."""

import math

import pandas as pd
import pytest

from profile_assets.features import derived as d
from profile_assets.staging.activity import stage_carts, stage_tickets, stage_web_activity
from profile_assets.staging.orders import ORDER_SOURCES, stage_orders
from profile_assets.staging.tables import CARTS, ORDERS, TICKETS, WEB_ACTIVITY
from profile_assets_tests.staging_support import staging_world, world_raw_tables

AS_OF = pd.Timestamp("2026-10-01T12:00:00Z")
SHOP = "storefront_customers"


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _frame(spec, rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return spec.empty()
    filled = [{c: row.get(c) for c in spec.columns} for row in rows]
    return spec.typed(pd.DataFrame(filled).assign(schema_version="1.0"))


def _order(record: str, when: str, amount: float, **extra) -> dict:
    row = {
        "source": "storefront_orders",
        "order_id": f"{record}-{when}",
        "customer_source": SHOP,
        "customer_record_id": record,
        "order_ts": _ts(when),
        "amount": amount,
        "currency": "USD",
        "status": "completed",
        "is_deleted": False,
    }
    return {**row, **extra}


def _web(record: str, day: str, sessions: int, carts: int = 0) -> dict:
    return {
        "customer_record_id": record,
        "activity_date": pd.Timestamp(day),
        "sessions": sessions,
        "page_views": 3 * sessions,
        "add_to_carts": carts,
        "purchases": 0,
        "revenue": 0.0,
    }


def _ticket(requester: str, created: str, updated: str, status: str, rating=None) -> dict:
    return {
        "source_record_id": f"{requester}-{created}",
        "requester_record_id": requester,
        "status": status,
        "created_at": _ts(created),
        "updated_at": _ts(updated),
        "satisfaction": rating,
        "is_deleted": False,
    }


def _cart(record: str, created: str, updated: str, items: int = 1) -> dict:
    return {
        "cart_id": f"{record}-{created}",
        "customer_record_id": record,
        "status": "open",
        "created_at": _ts(created),
        "updated_at": _ts(updated),
        "items": items,
        "cart_value": 10.0 * items,
    }


def _activity(orders=(), web=(), tickets=(), carts=()) -> d.Activity:
    return d.Activity(
        orders=_frame(ORDERS, list(orders)),
        web_activity=_frame(WEB_ACTIVITY, list(web)),
        tickets=_frame(TICKETS, list(tickets)),
        carts=_frame(CARTS, list(carts)),
    )


def _one(frame: pd.DataFrame, record: str, source: str = SHOP) -> pd.Series:
    rows = frame[(frame["source"] == source) & (frame["source_record_id"] == record)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_purchases_only_count_completed_orders_placed_by_as_of():
    activity = _activity(
        orders=[
            _order("1", "2026-01-10 00:00", 100.0),
            _order("1", "2026-09-01 00:00", 50.0, currency="GBP"),
            _order("1", "2026-09-02 00:00", 999.0, status="cancelled"),
            _order("1", "2026-09-03 00:00", 999.0, is_deleted=True),
            _order("1", "2026-10-05 00:00", 999.0),  # after as_of: invisible
        ]
    )
    row = _one(d.derive_fields(activity, AS_OF), "1")
    assert row.orders_count == 2
    assert row.total_spend == pytest.approx(100.0 + 50.0 * d.DEFAULT_FX_RATES["GBP"])
    assert row.avg_order_value == pytest.approx(row.total_spend / 2)
    assert row.first_purchase_at == _ts("2026-01-10 00:00")
    assert row.last_purchase_at == _ts("2026-09-01 00:00")


def test_web_window_is_the_last_30_complete_property_days():
    # as_of is 05:00 on Oct 1 in Los Angeles: Oct 1 is not over yet there.
    activity = _activity(
        web=[
            _web("1", "2026-10-01", 100),  # today, incomplete
            _web("1", "2026-09-30", 2, carts=1),
            _web("1", "2026-09-01", 3, carts=2),  # 30 days before today: included
            _web("1", "2026-08-31", 50),  # 31 days: outside
        ]
    )
    row = _one(d.derive_fields(activity, AS_OF), "1")
    assert (row.sessions_30d, row.pageviews_30d, row.cart_adds_30d) == (5, 15, 3)


def test_tickets_open_as_of_include_those_solved_later():
    activity = _activity(
        tickets=[
            _ticket("9", "2026-09-20", "2026-09-21", "solved", "good"),
            _ticket("9", "2026-09-25", "2026-10-03", "solved", "bad"),  # open on Oct 1
            _ticket("9", "2026-09-28", "2026-09-28", "open"),
            _ticket("9", "2026-05-01", "2026-05-02", "closed", "bad"),
            _ticket("9", "2026-10-02", "2026-10-02", "open"),  # not opened yet
        ]
    )
    row = _one(d.derive_fields(activity, AS_OF), "9", source="support_users")
    assert row.open_tickets == 2
    assert row.tickets_90d == 3
    assert row.csat_avg == pytest.approx(0.5)  # the later "bad" was not known on Oct 1


def test_abandoned_cart_needs_24_hours_without_an_order():
    activity = _activity(
        carts=[
            _cart("1", "2026-09-28 10:00", "2026-09-28 11:00"),  # nothing bought: abandoned
            _cart("2", "2026-09-28 10:00", "2026-09-28 11:00"),  # bought next morning
            _cart("3", "2026-10-01 02:00", "2026-10-01 03:00"),  # only 9 hours ago
            _cart("4", "2026-09-28 10:00", "2026-09-28 11:00", items=0),  # empty cart
            _cart("5", "2026-07-01 10:00", "2026-07-01 11:00"),  # too long ago
        ],
        orders=[_order("2", "2026-09-29 09:00", 10.0)],
    )
    records = pd.DataFrame({"source": SHOP, "source_record_id": ["1", "2", "3", "4", "5"]})
    derived = d.derive_fields(activity, AS_OF, entity_map=records).set_index("source_record_id")
    assert derived["abandoned_cart"].to_dict() == {
        "1": True,
        "2": False,
        "3": False,
        "4": False,
        "5": False,
    }


def test_engagement_score_follows_the_documented_formula():
    activity = _activity(
        orders=[_order("1", "2026-09-01 12:00", 10.0), _order("1", "2026-08-01 12:00", 10.0)],
        web=[_web("1", "2026-09-29", 4, carts=1)],
    )
    row = _one(d.derive_fields(activity, AS_OF), "1")
    recency = math.exp(-30 / 90)
    frequency = 1 - math.exp(-2 / 3)
    web = 1 - math.exp(-5 / 5)
    assert row.engagement_score == round(100 * (0.4 * recency + 0.25 * frequency + 0.35 * web), 1)


@pytest.mark.parametrize(
    ("days_ago", "orders", "spend", "segment", "score"),
    [
        (10, 12, 1500.0, "champions", "555"),
        (100, 5, 300.0, "loyal", "343"),
        (5, 1, 40.0, "new_customers", "511"),
        (300, 4, 100.0, "at_risk", "232"),
        (150, 1, 100.0, "promising", "312"),
        (400, 1, 20.0, "lost", "111"),
    ],
)
def test_rfm_segments(days_ago, orders, spend, segment, score):
    when = AS_OF - pd.Timedelta(days=days_ago)
    activity = _activity(
        orders=[
            _order("1", str((when - pd.Timedelta(hours=i)).tz_localize(None)), spend / orders)
            for i in range(orders)
        ]
    )
    row = _one(d.derive_fields(activity, AS_OF), "1")
    assert (row.rfm_segment, row.rfm_score) == (segment, score)


def test_records_fold_into_entities_and_inactive_ones_get_zeros():
    activity = _activity(
        orders=[_order("1", "2026-09-01 00:00", 10.0)],
        tickets=[_ticket("9", "2026-09-20", "2026-09-20", "open")],
    )
    entity_map = pd.DataFrame(
        {
            "source": [SHOP, "support_users", SHOP],
            "source_record_id": ["1", "9", "2"],
            "profile_id": ["p1", "p1", "p2"],
        }
    )
    derived = d.derive_fields(activity, AS_OF, entity_map=entity_map).set_index("profile_id")
    assert list(derived.columns) == d.DERIVED_COLUMNS
    assert (derived.loc["p1", "orders_count"], derived.loc["p1", "open_tickets"]) == (1, 1)
    assert derived.loc["p2", "orders_count"] == 0
    assert derived.loc["p2", "rfm_segment"] == "no_purchases"
    assert not derived.loc["p2", "abandoned_cart"]


def test_fields_as_of_the_cutoff_ignore_everything_after_it():
    """What the ML training set relies on: later data never changes features at a cutoff."""
    world, raws = staging_world(), world_raw_tables()
    now = world.as_of
    full = d.Activity(
        orders=stage_orders({n: raws[n] for n in ORDER_SOURCES}, now=now).frame,
        web_activity=stage_web_activity(raws["web_user_days"], now=now).frame,
        tickets=stage_tickets(raws["support_tickets"], now=now).frame,
        carts=stage_carts(
            raws["storefront_carts"],
            raws["storefront_cart_items"],
            raws["storefront_orders"],
            now=now,
        ).frame,
    )
    cutoff = world.cutoff
    known = d.Activity(
        orders=full.orders[full.orders["order_ts"] <= cutoff],
        web_activity=full.web_activity[
            pd.to_datetime(full.web_activity["activity_date"]) < cutoff.tz_localize(None)
        ],
        tickets=full.tickets[full.tickets["created_at"] <= cutoff],
        carts=full.carts[full.carts["created_at"] <= cutoff],
    )
    at_cutoff = d.derive_fields(full, cutoff)
    from_known = d.derive_fields(known, cutoff)
    keys = ["source", "source_record_id"]
    merged = at_cutoff.merge(from_known, on=keys, how="outer", suffixes=("", "_known"))
    assert len(merged) == len(from_known) > 100
    for column in d.DERIVED_COLUMNS:
        left, right = merged[column], merged[f"{column}_known"]
        same = (left == right) | (left.isna() & right.isna())
        assert same.all(), column
    assert at_cutoff["orders_count"].sum() < d.derive_fields(full, now)["orders_count"].sum()
