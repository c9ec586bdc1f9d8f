"""What people did, as each source recorded it: carts and orders in the shop, tickets in
support, deals in the CRM, orders at the partner store, and days on the website.

Events come from the behaviour model (person, day); these functions attach the details (items,
amounts, statuses, ratings) and the account each event landed on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from profile_assets.sandbox import dirt
from profile_assets.sandbox.behaviour import (
    AS_OF,
    HISTORY_DAYS,
    SECOND,
    SOURCE_TIMEZONES,
    Events,
    to_timestamps,
)
from profile_assets.sandbox.people import Population
from profile_assets.sandbox.pools import (
    COUNTRIES,
    CURRENCY,
    DEAL_PRODUCTS,
    SATISFACTION_COMMENTS,
    TICKET_SUBJECTS,
    Pools,
)
from profile_assets.sandbox.records import Accounts

_ITEM_GAP_DAYS = 3.0 / 1440.0  # about three minutes between cart adds
_CART_STATUSES = np.array(["open", "converted", "abandoned"], dtype=object)


@dataclass
class _Items:
    """Line items of a set of baskets (carts or cart-less orders)."""

    basket: np.ndarray  # basket position per item
    sku: np.ndarray  # pool index
    quantity: np.ndarray
    unit_price: np.ndarray
    added: np.ndarray  # day

    @property
    def totals(self) -> np.ndarray:
        return np.bincount(self.basket, weights=self.quantity * self.unit_price)


def _draw_items(rng, pools: Pools, start_day: np.ndarray) -> _Items:
    counts = 1 + rng.poisson(0.5, len(start_day))
    basket = np.repeat(np.arange(len(start_day)), counts)
    rank = np.arange(len(basket)) - np.repeat(np.cumsum(counts) - counts, counts)
    popularity = 1.0 / np.arange(1, len(pools.sku_names) + 1) ** 0.9
    sku = rng.choice(len(popularity), len(basket), p=popularity / popularity.sum())
    quantity = 1 + (rng.random(len(basket)) < 0.15) * rng.integers(1, 3, len(basket))
    added = start_day[basket] + (rank + rng.random(len(basket))) * _ITEM_GAP_DAYS
    return _Items(basket, sku, quantity.astype(np.int64), pools.sku_prices[sku], added)


@dataclass
class Commerce:
    """Storefront tables plus what the web and the labels need to know about them."""

    tables: dict[str, pd.DataFrame]
    persons: dict[str, np.ndarray]
    cart_person: np.ndarray  # per cart row (-1 = guest)
    cart_day: np.ndarray
    cart_items: np.ndarray
    cart_revenue: np.ndarray  # order amount if converted else 0
    order_person: np.ndarray
    order_day: np.ndarray
    order_cancelled: np.ndarray


def storefront_commerce(
    rng, pop: Population, pools: Pools, store: Accounts, carts: Events, guest_days: np.ndarray,
    direct: Events,
) -> Commerce:  # fmt: skip
    """Carts (some abandoned), the orders they became, and a few orders placed without a cart."""
    person = np.concatenate([carts.person, np.full(len(guest_days), -1)])
    day = np.concatenate([carts.day, guest_days])
    account = np.concatenate([store.assign(rng, carts), np.full(len(guest_days), -1)])
    order = np.argsort(day, kind="stable")
    person, day, account = person[order], day[order], account[order]
    items = _draw_items(rng, pools, day)
    last_added = np.full(len(day), -np.inf)
    np.maximum.at(last_added, items.basket, items.added)
    abandon = pop.traits["abandon_propensity"].to_numpy()[np.maximum(person, 0)]
    converted = (person >= 0) & (rng.random(len(day)) > abandon)
    converted &= last_added < -1.0 / 48
    checkout = last_added + rng.uniform(1, 20, len(day)) / 1440.0
    status = _CART_STATUSES[np.where(converted, 1, np.where(last_added < -1.0, 2, 0))]
    cart_ids = 1 + np.arange(len(day))
    customer_id = pd.array(np.where(account >= 0, store.ids[np.maximum(account, 0)], 0))
    customer_id = pd.Series(customer_id, dtype="Int64").mask(account < 0)
    carts_df = pd.DataFrame(
        {
            "id": cart_ids.astype(np.int64),
            "customer_id": customer_id,
            "status": status,
            "created_at": to_timestamps(day),
            "updated_at": to_timestamps(np.where(converted, checkout, last_added)),
        }
    )
    cart_items = _item_frame(items, pools, cart_ids, "cart_id")
    cart_items["added_at"] = to_timestamps(items.added)
    direct_items_start = rng.uniform(0, 1, len(direct)) / 1440.0 + direct.day
    direct_items = _draw_items(rng, pools, direct_items_start)
    orders, order_items, order_meta = _orders(
        rng, pop, pools, store, items, converted, checkout, person, account, cart_ids, direct,
        direct_items,
    )  # fmt: skip
    revenue = np.zeros(len(day))
    revenue[converted] = items.totals[converted]
    return Commerce(
        tables={
            "storefront_carts": carts_df,
            "storefront_cart_items": cart_items,
            "storefront_orders": orders,
            "storefront_order_items": order_items,
        },
        persons={
            "storefront_carts": person,
            "storefront_cart_items": person[items.basket],
            "storefront_orders": order_meta[0],
            "storefront_order_items": order_meta[0][order_meta[3]],
        },
        cart_person=person,
        cart_day=day,
        cart_items=np.bincount(items.basket, minlength=len(day)),
        cart_revenue=revenue,
        order_person=order_meta[0],
        order_day=order_meta[1],
        order_cancelled=order_meta[2],
    )


def _item_frame(items: _Items, pools: Pools, basket_ids: np.ndarray, key: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(1, len(items.basket) + 1, dtype=np.int64),
            key: basket_ids[items.basket].astype(np.int64),
            "sku": pools.sku_names[items.sku],
            "quantity": items.quantity,
            "unit_price": items.unit_price,
        }
    )


def _orders(rng, pop, pools, store, items, converted, checkout, person, account, cart_ids, direct,
            direct_items):  # fmt: skip
    """Orders from converted carts and cart-less orders, in time order with their items."""
    conv = np.flatnonzero(converted)
    direct_account = store.assign(rng, direct)
    o_person = np.concatenate([person[conv], direct.person])
    o_account = np.concatenate([account[conv], direct_account])
    o_day = np.concatenate([checkout[conv], direct.day])
    o_cart = np.concatenate([cart_ids[conv], np.zeros(len(direct), dtype=np.int64)])
    o_amount = np.concatenate([items.totals[conv], direct_items.totals])
    in_cart = np.isin(items.basket, conv)
    cart_to_order = np.full(len(converted), -1)
    cart_to_order[conv] = np.arange(len(conv))
    item_order = np.concatenate(
        [cart_to_order[items.basket[in_cart]], len(conv) + direct_items.basket]
    )
    item_fields = [
        np.concatenate([getattr(items, f)[in_cart], getattr(direct_items, f)])
        for f in ("sku", "quantity", "unit_price")
    ]
    order = np.argsort(o_day, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    o_person, o_account, o_day, o_cart, o_amount = (
        a[order] for a in (o_person, o_account, o_day, o_cart, o_amount)
    )
    item_order = rank[item_order]
    by_order = np.argsort(item_order, kind="stable")
    item_order = item_order[by_order]
    sku, quantity, unit_price = (f[by_order] for f in item_fields)
    status = rng.choice(
        np.array(["completed", "refunded", "cancelled"], dtype=object),
        len(o_day),
        p=[0.95, 0.03, 0.02],
    )
    status[o_day > -2.0] = "processing"
    settle = np.where(
        status == "refunded", rng.uniform(5, 30, len(o_day)), rng.uniform(0.5, 5, len(o_day))
    )
    updated = np.minimum(o_day + settle, -SECOND)
    updated = np.maximum(updated, o_day)
    order_ids = np.arange(1, len(o_day) + 1, dtype=np.int64)
    currency = np.array([CURRENCY[c] for c in COUNTRIES], dtype=object)
    country_code = pd.Categorical(pop.country[o_person], categories=COUNTRIES).codes
    orders = pd.DataFrame(
        {
            "id": order_ids,
            "customer_id": store.ids[o_account].astype(np.int64),
            "cart_id": pd.Series(o_cart, dtype="Int64").mask(o_cart == 0),
            "order_ts": to_timestamps(o_day),
            "amount": np.round(o_amount, 2),
            "currency": currency[country_code],
            "status": status,
            "updated_at": to_timestamps(updated),
        }
    )
    order_items = pd.DataFrame(
        {
            "id": np.arange(1, len(item_order) + 1, dtype=np.int64),
            "order_id": order_ids[item_order],
            "sku": pools.sku_names[sku],
            "quantity": quantity,
            "unit_price": unit_price,
        }
    )
    return orders, order_items, (o_person, o_day, status == "cancelled", item_order)


# --- support, CRM deals, partner orders ------------------------------------------------------


def support_tickets(rng, pop: Population, users: Accounts, tickets: Events) -> pd.DataFrame:
    """Tickets with satisfaction ratings: unhappy people rate bad more often (and churn more)."""
    n = len(tickets)
    requester = users.ids[users.assign(rng, tickets, share=0.5)]
    resolved = tickets.day + rng.exponential(2.0, n)
    open_now = resolved >= -SECOND
    age = -tickets.day
    status = np.where(age > 30, "closed", "solved").astype(object)
    status[open_now] = np.array(["new", "open", "pending"], dtype=object)[
        np.minimum((age[open_now] * 2).astype(int), 2)
    ]
    updated = np.where(open_now, tickets.day + rng.random(n) * age, resolved)
    unhappy = pop.traits["dissatisfaction"].to_numpy()[tickets.person]
    offered = ~open_now & (rng.random(n) < 0.75)
    rated = offered & (rng.random(n) < 0.6)
    bad = rated & (rng.random(n) < np.clip(0.1 + 2.2 * unhappy, 0, 0.95))
    score = np.full(n, "unoffered", dtype=object)
    score[offered] = "offered"
    score[rated] = "good"
    score[bad] = "bad"
    comment = np.full(n, None, dtype=object)
    for rating, texts in SATISFACTION_COMMENTS.items():
        where = np.flatnonzero((score == rating) & (rng.random(n) < 0.5))
        comment[where] = np.array(texts, dtype=object)[rng.integers(0, len(texts), len(where))]
    order = np.argsort(tickets.day, kind="stable")
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "requester_id": requester[order].astype(np.int64),
            "subject": np.array(TICKET_SUBJECTS, dtype=object)[
                rng.integers(0, len(TICKET_SUBJECTS), n)
            ],
            "status": status[order],
            "priority": rng.choice(
                np.array(["low", "normal", "high", "urgent"], dtype=object),
                n,
                p=[0.2, 0.6, 0.15, 0.05],
            ),
            "created_at": to_timestamps(tickets.day[order]),
            "updated_at": to_timestamps(updated[order]),
            "satisfaction_score": score[order],
            "satisfaction_comment": comment[order],
        }
    ), tickets.person[order]


_OPEN_STAGES = np.array(
    ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
     "contractsent"], dtype=object,
)  # fmt: skip


def crm_deals(rng, pop: Population, contacts: Accounts, deals: Events):
    n = len(deals)
    row = contacts.assign(rng, deals)
    close = deals.day + rng.uniform(3, 45, n)
    closed = close < -SECOND
    unhappy = pop.traits["dissatisfaction"].to_numpy()[deals.person]
    won = closed & (rng.random(n) < np.clip(0.85 - unhappy, 0.2, 0.9))
    stage = _OPEN_STAGES[rng.integers(0, len(_OPEN_STAGES), n)]
    stage[closed] = "closedlost"
    stage[won] = "closedwon"
    modified = np.minimum(np.where(closed, close, deals.day) + rng.uniform(0, 2, n), -SECOND)
    both = contacts.dup_of[deals.person]
    both_rows = np.flatnonzero((both >= 0) & (rng.random(n) < 0.1) & (both != row))
    contact_ids = [[str(i)] for i in contacts.ids[row]]
    for k in both_rows:
        contact_ids[k].append(str(contacts.ids[both[k]]))
    product = np.array(DEAL_PRODUCTS, dtype=object)[rng.integers(0, len(DEAL_PRODUCTS), n)]
    currency = np.array([CURRENCY[c] for c in pop.country[deals.person]], dtype=object)
    order = np.argsort(deals.day, kind="stable")
    frame = pd.DataFrame(
        {
            "id": (5001 + np.arange(n)).astype(str).astype(object),
            "dealname": dirt.objects(
                f"{last} - {p}"
                for last, p in zip(pop.last[deals.person[order]], product[order], strict=True)
            ),
            "amount": dirt.objects(np.round(np.exp(rng.normal(6.0, 0.7, n)), 2)),
            "deal_currency_code": currency[order],
            "dealstage": stage[order],
            "pipeline": "default",
            "closedate": to_timestamps(np.where(closed, close, np.inf)[order]),
            "createdate": to_timestamps(deals.day[order]),
            "hs_lastmodifieddate": to_timestamps(modified[order]),
            "contact_ids": dirt.objects(contact_ids[k] for k in order),
            "archived": np.zeros(n, dtype=bool),
            "archived_at": to_timestamps(np.full(n, np.inf)),
        }
    )
    return frame, deals.person[order], won[order], close[order]


def file_orders(rng, pop: Population, contacts: Accounts, refs: np.ndarray, orders: Events):
    order = np.argsort(orders.day, kind="stable")
    row = contacts.assign(rng, orders)[order]
    person = orders.person[order]
    n = len(order)
    return pd.DataFrame(
        {
            "order_ref": dirt.objects(f"SO-{i:08d}" for i in 1 + np.arange(n)),
            "contact_ref": refs[row],
            "order date": to_timestamps(orders.day[order]),
            "amount": dirt.objects(np.round(np.exp(rng.normal(3.8, 0.6, n)), 2)),
            "currency": np.array([CURRENCY[c] for c in pop.country[person]], dtype=object),
        }
    ), person


# --- web analytics ---------------------------------------------------------------------------


def _local_day_index(days: np.ndarray, tz: str, origin: pd.Timestamp) -> np.ndarray:
    """Calendar day number (since naive local midnight `origin`) of each instant in `tz`.

    Offsets are looked up per UTC hour (time-zone changes happen on the hour), which keeps this
    numeric and light for tens of millions of events."""
    hours = np.arange(-(HISTORY_DAYS + 4) * 24, 48)
    instants = pd.DatetimeIndex(AS_OF + pd.to_timedelta(hours, unit="h"))
    naive_utc = instants.tz_localize(None)
    offset_days = (instants.tz_convert(tz).tz_localize(None) - naive_utc) / pd.Timedelta(days=1)
    days = np.round(days * 86400.0) / 86400.0  # the instant as stored, at whole seconds
    hour = np.floor(days * 24).astype(np.int64) - hours[0]
    base = (AS_OF.tz_localize(None) - origin) / pd.Timedelta(days=1)
    return np.floor(base + days + offset_days.to_numpy()[hour]).astype(np.int64)


def _client_ids(rng, n: int, first_day: np.ndarray) -> np.ndarray:
    """GA4 pseudo ids: random number dot first-visit unix seconds."""
    first_seen = (AS_OF.value // 10**9 + np.round(first_day * 86400)).astype(np.int64)
    return dirt.objects(
        f"{r}.{s}" for r, s in zip(rng.integers(10**8, 2 * 10**9, n), first_seen, strict=True)
    )


@dataclass(frozen=True)
class Visits:
    """Anonymous visitor-days; days with a cart add also leave a guest cart in the shop."""

    visitor: np.ndarray
    day: np.ndarray
    add_to_carts: np.ndarray
    n_visitors: int


def anonymous_visits(rng, n_visitors: int) -> Visits:
    visits = rng.geometric(0.5, n_visitors)
    visitor = np.repeat(np.arange(n_visitors), visits)
    day = rng.uniform(-HISTORY_DAYS, -SECOND, len(visitor))
    atc = (rng.random(len(day)) < 0.08) * (1 + rng.poisson(0.3, len(day)))
    return Visits(visitor, day, atc.astype(np.int64), n_visitors)


@dataclass(frozen=True)
class _UserDays:
    """Logged-in activity summed per person and local day."""

    person: np.ndarray
    local: np.ndarray
    sessions: np.ndarray
    add_to_carts: np.ndarray
    purchases: np.ndarray
    revenue: np.ndarray


def _user_days(rng, browse: Events, commerce: Commerce, origin: pd.Timestamp) -> _UserDays:
    """Browsing days plus the days customers filled carts (with what they bought)."""
    shopper = commerce.cart_person >= 0
    person = np.concatenate([browse.person, commerce.cart_person[shopper]])
    local = _local_day_index(
        np.concatenate([browse.day, commerce.cart_day[shopper]]), SOURCE_TIMEZONES["web"], origin
    )
    key, row = np.unique(person * 4096 + local, return_inverse=True)
    del person, local
    atc = np.concatenate([rng.poisson(0.2, len(browse)), commerce.cart_items[shopper]])
    revenue = np.concatenate([np.zeros(len(browse)), commerce.cart_revenue[shopper]])
    return _UserDays(
        person=key // 4096,
        local=key % 4096,
        sessions=np.bincount(row).astype(np.int32),
        add_to_carts=np.bincount(row, weights=atc).astype(np.int32),
        purchases=np.bincount(row, weights=revenue > 0).astype(np.int32),
        revenue=np.round(np.bincount(row, weights=revenue), 2),
    )


def web_user_days(rng, pop, store: Accounts, browse: Events, commerce: Commerce,
                   anonymous: Visits) -> pd.DataFrame:  # fmt: skip
    """Per-user-per-day GA4 rows: logged-in customers (browsing plus their carts), the same
    customers on logged-out days (user_id None), and anonymous visitors. Each customer uses one
    or two devices (client ids)."""
    origin = (AS_OF - pd.Timedelta(days=HISTORY_DAYS + 2)).tz_convert(SOURCE_TIMEZONES["web"])
    origin = origin.tz_localize(None).normalize()
    known = _user_days(rng, browse, commerce, origin)
    n_known = len(known.person)
    web_people, first_row = np.unique(known.person, return_index=True)
    client_pos = np.full(len(pop), -1, dtype=np.int64)
    client_pos[web_people] = np.arange(len(web_people))
    first_day = known.local[first_row] - HISTORY_DAYS - 2.0
    clients = _client_ids(rng, 2 * len(web_people), np.tile(first_day, 2))
    second_device = (rng.random(n_known) < 0.25) * len(web_people)
    account_names = dirt.objects(store.ids.astype(str))  # one string per account, shared by rows
    user_id = account_names[store.primary_of[known.person]]
    user_id[rng.random(n_known) < 0.15] = None
    n_anon = len(anonymous.day)
    anon_clients = _client_ids(
        rng, anonymous.n_visitors, np.full(anonymous.n_visitors, -HISTORY_DAYS)
    )
    local = np.concatenate(
        [known.local, _local_day_index(anonymous.day, SOURCE_TIMEZONES["web"], origin)]
    )
    order = np.argsort(local, kind="stable")
    sessions = np.concatenate([known.sessions + rng.poisson(0.4, n_known).astype(np.int32),
                               np.ones(n_anon, dtype=np.int32)])[order]  # fmt: skip
    dates = dirt.objects(d.date() for d in pd.date_range(origin, periods=local.max() + 1))
    anon_none = np.full(n_anon, None, dtype=object)
    return pd.DataFrame(
        {
            "date": dates[local[order]],
            "user_id": np.concatenate([user_id, anon_none])[order],
            "client_id": np.concatenate(
                [clients[client_pos[known.person] + second_device], anon_clients[anonymous.visitor]]
            )[order],
            "sessions": sessions,
            "page_views": (sessions * (1 + rng.poisson(3.0, len(sessions)))).astype(np.int32),
            "add_to_carts": np.concatenate(
                [known.add_to_carts, anonymous.add_to_carts.astype(np.int32)]
            )[order],
            "purchases": np.concatenate([known.purchases, np.zeros(n_anon, np.int32)])[order],
            "revenue": np.concatenate([known.revenue, np.zeros(n_anon)])[order],
        }
    )
