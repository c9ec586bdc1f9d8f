"""Derived customer fields (spend, recency, web and support activity, RFM), as of any timestamp.

Everything is computed from the staging tables as they would have looked at `as_of`: an order
placed later, a web day not yet over, a ticket opened later are invisible. That makes the same
code serve today's profile and the ML training set's point-in-time features (as of the cutoff)
without leaking the future.

Who the fields belong to is a parameter, not a hard-coded join: each activity row is first
attributed to the staging contact record it names (`source`, `source_record_id`), then an
optional `entity_map` folds records into entities (e.g. golden profiles). Without a map, every
source record is its own entity, which is what staging can compute before identity resolution.

The engagement score and the RFM segment use fixed thresholds rather than population
quantiles, so a person's value does not move when other people are added or removed.

    engagement_score = 100 * (0.40 * R + 0.25 * F + 0.35 * W), rounded to 0.1, where
      R = exp(-days_since_last_purchase / 90)      (0 without a purchase)
      F = 1 - exp(-orders_count / 3)
      W = 1 - exp(-(sessions_30d + cart_adds_30d) / 5)

RFM scores (1-5, see `_RFM_BINS`) from days since the last purchase, order count and spend give
`rfm_score` ("545") and `rfm_segment` (see `rfm_segments`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from profile_assets.contracts.schema import RECORD_KEY

# Where each activity table's customer id points in staging.contacts.
WEB_CONTACT_SOURCE = "storefront_customers"
CART_CONTACT_SOURCE = "storefront_customers"
TICKET_CONTACT_SOURCE = "support_users"

OPEN_TICKET_STATUSES = frozenset({"new", "open", "pending"})
NOT_A_SALE_STATUSES = frozenset({"cancelled", "canceled", "refunded", "void", "failed"})

# Static reference rates to the reporting currency. A simplification documented in the README:
# spend is for ranking customers, not accounting. Orders in an unknown currency count as orders
# but add nothing to spend.
DEFAULT_FX_RATES: Mapping[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "CAD": 0.73,
}

DERIVED_COLUMNS = [
    "first_purchase_at",
    "last_purchase_at",
    "orders_count",
    "total_spend",
    "avg_order_value",
    "sessions_30d",
    "pageviews_30d",
    "cart_adds_30d",
    "abandoned_cart",
    "open_tickets",
    "tickets_90d",
    "csat_avg",
    "engagement_score",
    "rfm_score",
    "rfm_segment",
]

# Lower bounds of score 2..5 (score 1 below the first bound).
_RFM_BINS = {
    "recency_days": (365, 180, 90, 30),  # at most this many days ago (descending)
    "frequency": (2, 3, 5, 10),  # at least this many orders
    "monetary": (75.0, 200.0, 500.0, 1000.0),  # at least this much spend
}


@dataclass(frozen=True)
class Activity:
    """The staging tables derived fields are computed from (columns per STAGING_CONTRACT)."""

    orders: pd.DataFrame
    web_activity: pd.DataFrame
    tickets: pd.DataFrame
    carts: pd.DataFrame


@dataclass(frozen=True)
class DerivedSettings:
    """Windows and conventions of the derived fields."""

    recent_days: int = 30
    ticket_window_days: int = 90
    abandon_after: pd.Timedelta = pd.Timedelta(hours=24)
    #: Web analytics days are local days of the property: a day counts once it is over there.
    web_timezone: str = "America/Los_Angeles"
    fx_rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FX_RATES))


def derive_fields(
    activity: Activity,
    as_of: pd.Timestamp,
    entity_map: pd.DataFrame | None = None,
    settings: DerivedSettings = DerivedSettings(),
) -> pd.DataFrame:
    """One row per entity with DERIVED_COLUMNS as of `as_of` (tz-aware UTC).

    `entity_map`: columns `source`, `source_record_id` and optionally entity columns (e.g.
    `profile_id`). With entity columns, records are folded into those entities; without them,
    each listed record is an entity. Every entity of the map gets a row (zeros when inactive).
    Without a map, the entities are the records that have any activity.
    """
    as_of = pd.Timestamp(as_of).tz_convert("UTC")
    entity_columns = _entity_columns(entity_map)
    orders = _attribute(_sales(activity.orders, as_of, settings), entity_map, entity_columns)
    parts = [
        _purchase_fields(orders, entity_columns),
        _web_fields(activity.web_activity, as_of, settings, entity_map, entity_columns),
        _ticket_fields(activity.tickets, as_of, settings, entity_map, entity_columns),
        _abandoned_carts(activity.carts, orders, as_of, settings, entity_map, entity_columns),
    ]
    out = pd.concat(parts, axis=1)
    if entity_map is not None:
        universe = entity_map[entity_columns].drop_duplicates().set_index(entity_columns).index
        out = out.reindex(universe)
    out = _fill_defaults(out)
    out["engagement_score"] = engagement_score(out, as_of)
    out["rfm_score"], out["rfm_segment"] = rfm_segments(out, as_of)
    return out.reset_index()[[*entity_columns, *DERIVED_COLUMNS]]


def _entity_columns(entity_map: pd.DataFrame | None) -> list[str]:
    if entity_map is None:
        return list(RECORD_KEY)
    extra = [c for c in entity_map.columns if c not in RECORD_KEY]
    return extra or list(RECORD_KEY)


def _attribute(
    df: pd.DataFrame, entity_map: pd.DataFrame | None, entity_columns: list[str]
) -> pd.DataFrame:
    """Attach the entity columns to activity rows that carry `source`/`source_record_id`."""
    df = df[df["source_record_id"].notna()]
    if entity_map is None or entity_columns == RECORD_KEY:
        if entity_map is not None:
            df = df.merge(entity_map[RECORD_KEY].drop_duplicates(), on=RECORD_KEY)
        return df
    keys = entity_map[[*RECORD_KEY, *entity_columns]].drop_duplicates(RECORD_KEY)
    return df.merge(keys, on=RECORD_KEY)


def _owned_by(df: pd.DataFrame, source: str, record_column: str) -> pd.DataFrame:
    out = df.copy()
    out["source"] = source
    out["source_record_id"] = out[record_column]
    return out


def _sales(orders: pd.DataFrame, as_of: pd.Timestamp, settings: DerivedSettings) -> pd.DataFrame:
    """Orders that count as purchases by `as_of`, with spend in the reporting currency."""
    live = (
        ~orders["is_deleted"].fillna(False).astype(bool)
        & (orders["order_ts"] <= as_of)
        & ~orders["status"].fillna("").str.lower().isin(NOT_A_SALE_STATUSES)
    )
    sales = orders.loc[live, ["customer_source", "customer_record_id", "order_ts"]].copy()
    rates = orders.loc[live, "currency"].map(dict(settings.fx_rates)).astype(float)
    sales["spend"] = orders.loc[live, "amount"].astype(float) * rates
    return sales.rename(
        columns={"customer_source": "source", "customer_record_id": "source_record_id"}
    )


def _purchase_fields(orders: pd.DataFrame, entity_columns: list[str]) -> pd.DataFrame:
    grouped = orders.groupby(entity_columns)
    out = pd.DataFrame(
        {
            "first_purchase_at": grouped["order_ts"].min(),
            "last_purchase_at": grouped["order_ts"].max(),
            "orders_count": grouped.size(),
            "total_spend": grouped["spend"].sum(min_count=1),
        }
    )
    out["avg_order_value"] = out["total_spend"] / out["orders_count"]
    return out


def _web_fields(
    web: pd.DataFrame,
    as_of: pd.Timestamp,
    settings: DerivedSettings,
    entity_map: pd.DataFrame | None,
    entity_columns: list[str],
) -> pd.DataFrame:
    """Sums over the last `recent_days` complete property-local days before `as_of`."""
    today = as_of.tz_convert(settings.web_timezone).tz_localize(None).normalize()
    days = pd.to_datetime(web["activity_date"])
    window = (days >= today - pd.Timedelta(days=settings.recent_days)) & (days < today)
    rows = _owned_by(web[window], WEB_CONTACT_SOURCE, "customer_record_id")
    rows = _attribute(rows, entity_map, entity_columns)
    sums = rows.groupby(entity_columns)[["sessions", "page_views", "add_to_carts"]].sum()
    return sums.rename(
        columns={
            "sessions": "sessions_30d",
            "page_views": "pageviews_30d",
            "add_to_carts": "cart_adds_30d",
        }
    )


def _ticket_fields(
    tickets: pd.DataFrame,
    as_of: pd.Timestamp,
    settings: DerivedSettings,
    entity_map: pd.DataFrame | None,
    entity_columns: list[str],
) -> pd.DataFrame:
    """Open = opened by `as_of` and either still open, or closed only after `as_of`."""
    live = ~tickets["is_deleted"].fillna(False).astype(bool) & (tickets["status"] != "deleted")
    rows = tickets[live & (tickets["created_at"] <= as_of)]
    rows = _owned_by(rows, TICKET_CONTACT_SOURCE, "requester_record_id")
    rows = _attribute(rows, entity_map, entity_columns)
    rated_by_then = (rows["updated_at"] <= as_of) & rows["satisfaction"].isin(["good", "bad"])
    flags = pd.DataFrame(
        {
            "open_tickets": rows["status"].isin(OPEN_TICKET_STATUSES)
            | (rows["updated_at"] > as_of),
            "tickets_90d": rows["created_at"]
            > as_of - pd.Timedelta(days=settings.ticket_window_days),
            "csat": (rows["satisfaction"] == "good").astype(float).where(rated_by_then),
        }
    )
    flags[entity_columns] = rows[entity_columns]
    grouped = flags.groupby(entity_columns)
    return pd.DataFrame(
        {
            "open_tickets": grouped["open_tickets"].sum(),
            "tickets_90d": grouped["tickets_90d"].sum(),
            "csat_avg": grouped["csat"].mean(),
        }
    )


def _abandoned_carts(
    carts: pd.DataFrame,
    sales: pd.DataFrame,
    as_of: pd.Timestamp,
    settings: DerivedSettings,
    entity_map: pd.DataFrame | None,
    entity_columns: list[str],
) -> pd.Series:
    """True when a cart with items saw its last activity between `recent_days` and
    `abandon_after` before `as_of`, and the entity placed no order from the cart's creation
    until `abandon_after` past that activity.

    A cart's last activity as of a past date is its `updated_at` when that is not later than
    `as_of`, else its creation (what was known then).
    """
    rows = carts[(carts["created_at"] <= as_of) & (carts["items"].fillna(0) > 0)]
    activity_at = rows["updated_at"].where(rows["updated_at"] <= as_of, rows["created_at"])
    rows = rows.assign(activity_at=activity_at)
    recent = (rows["activity_at"] >= as_of - pd.Timedelta(days=settings.recent_days)) & (
        rows["activity_at"] <= as_of - settings.abandon_after
    )
    rows = _owned_by(rows[recent], CART_CONTACT_SOURCE, "customer_record_id")
    rows = _attribute(rows, entity_map, entity_columns).reset_index(drop=True)
    rows["cart_row"] = np.arange(len(rows))
    pairs = rows[[*entity_columns, "cart_row", "created_at", "activity_at"]].merge(
        sales[[*entity_columns, "order_ts"]], on=entity_columns
    )
    converted = (pairs["order_ts"] >= pairs["created_at"]) & (
        pairs["order_ts"] <= pairs["activity_at"] + settings.abandon_after
    )
    converted_rows = set(pairs.loc[converted, "cart_row"])
    rows["abandoned"] = ~rows["cart_row"].isin(converted_rows)
    return rows.groupby(entity_columns)["abandoned"].any().rename("abandoned_cart")


def _fill_defaults(out: pd.DataFrame) -> pd.DataFrame:
    """Absent activity means zero counts and no abandoned cart; averages stay null."""
    for column in DERIVED_COLUMNS:
        if column not in out:
            out[column] = np.nan
    counts = [
        "orders_count",
        "sessions_30d",
        "pageviews_30d",
        "cart_adds_30d",
        "open_tickets",
        "tickets_90d",
    ]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["total_spend"] = out["total_spend"].fillna(0.0).astype(float)
    out["abandoned_cart"] = out["abandoned_cart"].astype("boolean").fillna(False).astype(bool)
    for column in ("first_purchase_at", "last_purchase_at"):
        out[column] = pd.to_datetime(out[column], utc=True)
    return out


def _days_since_last_purchase(derived: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    return (as_of - derived["last_purchase_at"]).dt.total_seconds() / 86_400


def engagement_score(derived: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """0-100, the formula in the module docstring."""
    recency = np.exp(-_days_since_last_purchase(derived, as_of) / 90).fillna(0.0)
    frequency = 1 - np.exp(-derived["orders_count"] / 3)
    web = 1 - np.exp(-(derived["sessions_30d"] + derived["cart_adds_30d"]) / 5)
    return (100 * (0.40 * recency + 0.25 * frequency + 0.35 * web)).round(1)


def _score(values: pd.Series, bounds: Sequence[float], *, descending: bool = False) -> pd.Series:
    if descending:
        hits = sum((values <= b).astype(int) for b in bounds)
    else:
        hits = sum((values >= b).astype(int) for b in bounds)
    return 1 + hits


def rfm_segments(derived: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """(rfm_score "RFM" digits, segment). Segments, first rule that applies:
    no purchase -> no_purchases; R>=4 & F>=4 -> champions; R>=3 & F>=3 -> loyal;
    R>=4 -> new_customers; R<=2 & F>=3 -> at_risk; R==3 -> promising; R==2 -> hibernating;
    else lost.
    """
    days = _days_since_last_purchase(derived, as_of)
    r = _score(days, _RFM_BINS["recency_days"], descending=True)
    f = _score(derived["orders_count"], _RFM_BINS["frequency"])
    m = _score(derived["total_spend"], _RFM_BINS["monetary"])
    bought = derived["orders_count"] > 0
    conditions = [
        ~bought,
        (r >= 4) & (f >= 4),
        (r >= 3) & (f >= 3),
        r >= 4,
        (r <= 2) & (f >= 3),
        r == 3,
        r == 2,
    ]
    choices = [
        "no_purchases",
        "champions",
        "loyal",
        "new_customers",
        "at_risk",
        "promising",
        "hibernating",
    ]
    segment = pd.Series(np.select(conditions, choices, "lost"), index=derived.index)
    score = r.astype(str) + f.astype(str) + m.astype(str)
    return score.where(bought), segment
