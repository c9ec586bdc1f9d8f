"""Mutations of a generated world, so incremental sync and CDC have something to catch.

`generate_changes` picks people and lets them act (order, fill a cart, open or settle a ticket,
move house, get a new CRM deal, be deleted...). Every touched row gets a modification time later
than any existing one, the world's tables and truth are changed in place (the world stays the
single truth), and the ChangeSet tells the simulated vendors what to re-serve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from profile_assets.sandbox import dirt
from profile_assets.sandbox.people import draw_addresses, population_from_people
from profile_assets.sandbox.pools import CURRENCY, TICKET_SUBJECTS, build_pools
from profile_assets.sandbox.records import CRM, SUPPORT, full_names, render_identity
from profile_assets.sandbox.world import ID_COLUMNS, World, truth_frame

# The column a vendor's "changed since" cursor follows, per table.
MODIFIED_AT: dict[str, str] = {
    "crm_contacts": "lastmodifieddate",
    "crm_deals": "hs_lastmodifieddate",
    "support_users": "updated_at",
    "support_tickets": "updated_at",
    "storefront_customers": "updated_at",
    "storefront_carts": "updated_at",
    "storefront_cart_items": "added_at",
    "storefront_orders": "updated_at",
    "file_contacts": "updated",
}
# Tables whose deletes are soft (the row stays, flagged); all storefront deletes are hard.
SOFT_DELETES = ("crm_contacts", "support_users", "support_tickets")
_CHANGE_WINDOW_SECONDS = 3600
# Odds of what a deleting person loses (CRM contact, ticket, support user, open cart), among
# what they have: deleted tickets and users are what incremental exports most often miss.
_DELETE_WEIGHTS = np.array([1.0, 3.0, 1.5, 2.0])


@dataclass
class ChangeSet:
    """upserts: full new rows per table; deletes: ids per table. Soft-deleted rows (archived
    contacts, inactive users, deleted tickets) appear in both, with their deleted state."""

    upserts: dict[str, pd.DataFrame]
    deletes: dict[str, list[str]]


@dataclass
class _Change:
    """Mutations being applied to one world, and what they touched."""

    world: World
    rng: np.random.Generator
    touched: dict[str, set] = field(default_factory=dict)
    deleted: dict[str, list[str]] = field(default_factory=dict)

    def person_rows(self, table: str, persons: np.ndarray) -> np.ndarray:
        """Each person's first (oldest) row in an identity table, -1 if they have none."""
        truth = self.world.truth_records
        mine = truth[(truth["source"] == table) & truth["person_id"].notna()]
        first = mine.drop_duplicates("person_id")
        ids = pd.Series(first["source_id"].to_numpy(), index=first["person_id"].astype(np.int64))
        source_ids = ids.reindex(persons + 1).to_numpy()
        frame = self.world.tables[table]
        key = frame[ID_COLUMNS.get(table, "id")]
        positions = pd.Index(key.astype(str)).get_indexer(source_ids)
        return np.where(pd.isna(source_ids), -1, positions)

    def update(self, table: str, rows: np.ndarray, values: dict[str, object]) -> None:
        frame = self.world.tables[table]
        for column, value in values.items():
            frame.iloc[rows, frame.columns.get_loc(column)] = value
        ids = frame[ID_COLUMNS.get(table, "id")].iloc[rows]
        self.touched.setdefault(table, set()).update(ids.tolist())

    def create(self, table: str, rows: dict[str, object], persons: np.ndarray) -> pd.Series:
        """Append rows with fresh ids; returns the ids."""
        frame = self.world.tables[table]
        ids = _next_ids(frame["id"], len(persons))
        new = pd.DataFrame({"id": ids, **rows}, columns=frame.columns)
        new = new.astype(frame.dtypes.to_dict())
        for column in new.columns[new.dtypes == np.dtype(object)]:
            new[column] = new[column].where(new[column].notna(), None)  # None, as generated
        self.world.tables[table] = pd.concat([frame, new], ignore_index=True)
        truth = truth_frame([table], [new["id"]], [persons], [np.full(len(new), None, object)])
        self.world.truth_records = pd.concat([self.world.truth_records, truth], ignore_index=True)
        self.touched.setdefault(table, set()).update(new["id"].tolist())
        return new["id"]

    def hard_delete(self, table: str, ids: pd.Series) -> None:
        frame = self.world.tables[table]
        self.world.tables[table] = frame[~frame["id"].isin(ids)].reset_index(drop=True)
        truth = self.world.truth_records
        gone = (truth["source"] == table) & truth["source_id"].isin([str(i) for i in ids])
        self.world.truth_records = truth[~gone].reset_index(drop=True)
        self.deleted.setdefault(table, []).extend(str(i) for i in ids)
        self.touched.get(table, set()).difference_update(ids.tolist())


def _next_ids(existing: pd.Series, count: int):
    """Ids after the largest one, in the column's own convention (int or numeric string)."""
    numeric = existing.astype(np.int64) if existing.dtype == object else existing
    start = int(numeric.max()) + 1 if len(existing) else 1
    ids = np.arange(start, start + count, dtype=np.int64)
    return dirt.objects(ids.astype(str)) if existing.dtype == object else ids


def latest_modification(world: World) -> pd.Timestamp:
    """The newest modification time in the world (broken future business dates excluded)."""
    return max(world.tables[t][c].max() for t, c in MODIFIED_AT.items() if len(world.tables[t]))


# --- actions ---------------------------------------------------------------------------------


def _place_orders(change: _Change, persons: np.ndarray, when: pd.Series) -> None:
    """New carts; most become orders, some stay open."""
    rows = change.person_rows("storefront_customers", persons)
    has = rows >= 0
    persons, when, rows = persons[has], when[has].reset_index(drop=True), rows[has]
    if len(persons) == 0:
        return
    customer = change.world.tables["storefront_customers"]["id"].to_numpy()[rows]
    converted = change.rng.random(len(persons)) < 0.7
    cart_ids = change.create(
        "storefront_carts",
        {"customer_id": customer, "status": np.where(converted, "converted", "open"),
         "created_at": when, "updated_at": when},
        persons,
    )  # fmt: skip
    skus, quantities, prices = _basket(change.rng, len(persons))
    change.create(
        "storefront_cart_items",
        {"cart_id": cart_ids.to_numpy(), "sku": skus, "quantity": quantities,
         "unit_price": prices, "added_at": when},
        persons,
    )  # fmt: skip
    bought = np.flatnonzero(converted)
    if len(bought) == 0:
        return
    country = change.world.people["country"].astype(object).to_numpy()[persons[bought]]
    order_ids = change.create(
        "storefront_orders",
        {"customer_id": customer[bought], "cart_id": cart_ids.to_numpy()[bought],
         "order_ts": when[bought].to_numpy(), "amount": np.round(quantities * prices, 2)[bought],
         "currency": [CURRENCY[c] for c in country], "status": "processing",
         "updated_at": when[bought].to_numpy()},
        persons[bought],
    )  # fmt: skip
    change.create(
        "storefront_order_items",
        {"order_id": order_ids.to_numpy(), "sku": skus[bought], "quantity": quantities[bought],
         "unit_price": prices[bought]},
        persons[bought],
    )  # fmt: skip


def _basket(rng: np.random.Generator, n: int):
    pools = build_pools()
    sku = rng.integers(0, len(pools.sku_names), n)
    quantity = 1 + (rng.random(n) < 0.15).astype(np.int64)
    return pools.sku_names[sku], quantity, pools.sku_prices[sku]


def _open_tickets(change: _Change, persons: np.ndarray, when: pd.Series) -> None:
    """New tickets; a first ticket also creates its requester, as Zendesk does."""
    stamp = when.to_numpy()
    absent = change.person_rows("support_users", persons) < 0
    if absent.any():
        record = _new_identities(change, persons[absent], SUPPORT, "support_users")
        change.create(
            "support_users",
            {"name": full_names(change.rng, record["first_name"], record["last_name"]),
             "email": record["email"], "phone": record["phone"], "external_id": None,
             "role": "end-user", "active": True, "created_at": stamp[absent],
             "updated_at": stamp[absent]},
            persons[absent],
        )  # fmt: skip
        change.world.people.loc[persons[absent], "in_support"] = True
    rows = change.person_rows("support_users", persons)
    users = change.world.tables["support_users"]["id"].to_numpy()[rows]
    change.create(
        "support_tickets",
        {"requester_id": users,
         "subject": np.array(TICKET_SUBJECTS, object)[change.rng.integers(0, 10, len(users))],
         "status": "new", "priority": "normal", "created_at": stamp, "updated_at": stamp,
         "satisfaction_score": "unoffered", "satisfaction_comment": None},
        persons,
    )  # fmt: skip


def _new_identities(change: _Change, persons: np.ndarray, style, table: str) -> dict:
    """Records of existing people as `table` would write them today; an address the table
    already holds gets a plus-tag, as the vendor refuses a second account with it."""
    pools = build_pools()
    pop = population_from_people(change.world.people.iloc[persons], pools)
    n = len(persons)
    record = render_identity(
        change.rng, pop, pools, np.arange(n), np.zeros(n), style, np.zeros(n, dtype=bool)
    )
    taken = set(change.world.tables[table]["email"].dropna().str.lower())
    emails = record["email"]
    clash = np.flatnonzero([e is not None and e.lower() in taken for e in emails])
    dirt.apply(emails, clash, dirt.plus_tag, change.rng.integers(0, 100, len(clash)))
    return record


def _settle_tickets(change: _Change, persons: np.ndarray, when: pd.Series) -> None:
    """The person's newest live ticket gets solved and rated."""
    rows = _latest_ticket_rows(change, persons)
    has = rows >= 0
    rating = np.where(change.rng.random(int(has.sum())) < 0.3, "bad", "good")
    change.update("support_tickets", rows[has], {
        "status": "solved", "satisfaction_score": rating, "updated_at": when[has].to_numpy(),
    })  # fmt: skip


def _latest_ticket_rows(change: _Change, persons: np.ndarray) -> np.ndarray:
    users = change.person_rows("support_users", persons)
    user_ids = change.world.tables["support_users"]["id"].to_numpy()[np.maximum(users, 0)]
    tickets = change.world.tables["support_tickets"]
    live = tickets[tickets["status"] != "deleted"]
    newest = live.reset_index().drop_duplicates("requester_id", keep="last")
    by_user = pd.Series(newest["index"].to_numpy(), index=newest["requester_id"].to_numpy())
    rows = by_user.reindex(user_ids).to_numpy()
    return np.where((users >= 0) & ~np.isnan(rows), np.nan_to_num(rows, nan=-1), -1).astype(int)


def _move_house(change: _Change, persons: np.ndarray, when: pd.Series) -> None:
    """People move: the truth changes, and the CRM and the shop hear about it."""
    world = change.world
    pools = build_pools()
    country = world.people["country"].astype(object).to_numpy()[persons]
    new = draw_addresses(change.rng, country, pools)
    people = world.people
    for column, values in new.items():
        people.loc[persons, f"previous_{column}"] = people.loc[persons, column].to_numpy()
        people.loc[persons, column] = values
    people.loc[persons, "moved_at"] = when.to_numpy()
    crm = change.person_rows("crm_contacts", persons)
    at = crm >= 0
    change.update("crm_contacts", crm[at], {
        "address": new["address_line1"][at], "city": new["city"][at], "zip": new["postcode"][at],
        "state": new["state"][at], "lastmodifieddate": when[at].to_numpy(),
    })  # fmt: skip
    shop = change.person_rows("storefront_customers", persons)
    at = shop >= 0
    change.update("storefront_customers", shop[at], {
        **{k: v[at] for k, v in new.items()}, "updated_at": when[at].to_numpy(),
    })  # fmt: skip


def _new_deals(change: _Change, persons: np.ndarray, when: pd.Series) -> None:
    rows = change.person_rows("crm_contacts", persons)
    has = rows >= 0
    contacts = change.world.tables["crm_contacts"]
    ids = contacts["id"].to_numpy()[rows[has]]
    people = change.world.people
    country = people["country"].astype(object).to_numpy()[persons[has]]
    last = people["last_name"].to_numpy()[persons[has]]
    stamp = when[has].to_numpy()
    change.create(
        "crm_deals",
        {"dealname": [f"{n} - Repeat order" for n in last],
         "amount": dirt.objects(np.round(np.exp(change.rng.normal(6.0, 0.7, len(ids))), 2)),
         "deal_currency_code": [CURRENCY[c] for c in country], "dealstage": "qualifiedtobuy",
         "pipeline": "default", "closedate": pd.NaT, "createdate": stamp,
         "hs_lastmodifieddate": stamp, "contact_ids": dirt.objects([i] for i in ids),
         "archived": False, "archived_at": pd.NaT},
        persons[has],
    )  # fmt: skip


def _new_contacts(change: _Change, persons: np.ndarray, when: pd.Series) -> None:
    """People the CRM has not met yet sign up to the newsletter."""
    absent = change.person_rows("crm_contacts", persons) < 0
    persons, stamp = persons[absent], when[absent].to_numpy()
    if len(persons) == 0:
        return
    record = _new_identities(change, persons, CRM, "crm_contacts")
    change.create(
        "crm_contacts",
        {"email": record["email"], "firstname": record["first_name"],
         "lastname": record["last_name"], "phone": record["phone"],
         "address": record["address_line1"], "city": record["city"], "zip": record["postcode"],
         "state": record["state"], "country": record["country"], "date_of_birth": None,
         "storefront_customer_id": None, "createdate": stamp, "lastmodifieddate": stamp,
         "archived": False, "archived_at": pd.NaT},
        persons,
    )  # fmt: skip
    change.world.people.loc[persons, "in_crm"] = True


def _delete_records(change: _Change, persons: np.ndarray, when: pd.Series) -> None:
    """Each person loses one thing they have: a CRM contact, a ticket, a support account or an
    open cart."""
    stamp = when.to_numpy()
    crm = change.person_rows("crm_contacts", persons)
    tickets = _latest_ticket_rows(change, persons)
    users = change.person_rows("support_users", persons)
    carts = _open_cart_ids(change, persons)
    has = np.column_stack([crm >= 0, tickets >= 0, users >= 0, carts.notna().to_numpy()])
    # weighted choice among what each person has (u ** (1/w) wins with odds proportional to w)
    score = change.rng.random(has.shape) ** (1.0 / _DELETE_WEIGHTS)
    kind = np.where(has, score, -1.0).argmax(axis=1)
    kind[~has.any(axis=1)] = -1
    at = kind == 0
    change.update("crm_contacts", crm[at], {
        "archived": True, "archived_at": stamp[at], "lastmodifieddate": stamp[at],
    })  # fmt: skip
    _soft_deleted(change, "crm_contacts", crm[at])
    at = kind == 1
    change.update("support_tickets", tickets[at], {"status": "deleted", "updated_at": stamp[at]})
    _soft_deleted(change, "support_tickets", tickets[at])
    at = kind == 2
    change.update("support_users", users[at], {"active": False, "updated_at": stamp[at]})
    _soft_deleted(change, "support_users", users[at])
    _delete_carts(change, carts[kind == 3].astype(np.int64))


def _soft_deleted(change: _Change, table: str, rows: np.ndarray) -> None:
    ids = change.world.tables[table]["id"].iloc[rows]
    change.deleted.setdefault(table, []).extend(str(i) for i in ids)


def _open_cart_ids(change: _Change, persons: np.ndarray) -> pd.Series:
    """Id of each person's newest open cart (NA if none)."""
    shop = change.person_rows("storefront_customers", persons)
    customer = change.world.tables["storefront_customers"]["id"].to_numpy()[np.maximum(shop, 0)]
    carts = change.world.tables["storefront_carts"]
    open_carts = carts[carts["status"] == "open"].drop_duplicates("customer_id", keep="last")
    by_customer = pd.Series(open_carts["id"].to_numpy(), index=open_carts["customer_id"])
    ids = pd.Series(by_customer.reindex(customer).to_numpy(), dtype="Int64")
    return ids.mask(shop < 0)


def _delete_carts(change: _Change, cart_ids: pd.Series) -> None:
    """Shops purge open carts: the cart and its items go, hard."""
    items = change.world.tables["storefront_cart_items"]
    change.hard_delete("storefront_cart_items", items.loc[items["cart_id"].isin(cart_ids), "id"])
    change.hard_delete("storefront_carts", cart_ids)


_ACTIONS: tuple[tuple[float, Callable[[_Change, np.ndarray, pd.Series], None]], ...] = (
    (0.30, _place_orders),
    (0.15, _open_tickets),
    (0.10, _settle_tickets),
    (0.10, _move_house),
    (0.10, _new_deals),
    (0.10, _new_contacts),
    (0.15, _delete_records),
)


def generate_changes(world: World, n_people: int, seed: int) -> ChangeSet:
    """About `n_people` people act; the world changes in place and the ChangeSet says how."""
    rng = np.random.default_rng(seed)
    start = latest_modification(world) + pd.Timedelta(seconds=1)
    picked = rng.choice(len(world.people), min(n_people, len(world.people)), replace=False)
    offsets = np.sort(rng.integers(0, _CHANGE_WINDOW_SECONDS, len(picked)))
    when = pd.Series(start + pd.to_timedelta(offsets, unit="s"))
    weights = np.array([w for w, _ in _ACTIONS])
    action = rng.choice(len(_ACTIONS), len(picked), p=weights / weights.sum())
    change = _Change(world, rng)
    for k, (_, act) in enumerate(_ACTIONS):
        mine = np.flatnonzero(action == k)
        if len(mine):
            act(change, picked[mine], when.iloc[mine].reset_index(drop=True))
    upserts = {}
    for table, ids in change.touched.items():
        if not ids:
            continue
        frame = world.tables[table]
        upserts[table] = frame[frame[ID_COLUMNS.get(table, "id")].isin(ids)].reset_index(drop=True)
    return ChangeSet(upserts=upserts, deletes={t: ids for t, ids in change.deleted.items() if ids})
