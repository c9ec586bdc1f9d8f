"""The seeded sandbox world: people, the source tables they leave behind, and the truth.

`generate_world(n, seed)` draws a population (identity plus hidden behaviour traits), lets the
behaviour model produce events, then renders every source system's tables the way that system
would have recorded them: each record of a person is an independent, imperfect copy of the
person's identity *at the time it was written* (before or after a move or a marriage), with the
source's own habits of dirt. Everything is vectorised with numpy; only dirty values and unique
strings (emails, ids) go through Python.

The world carries its ground truth (`truth_records`, `truth_labels`, `people`); the pipeline
never reads it, tests and benchmarks do.

Where things live: pools.py (Faker vocabularies), people.py (the population), behaviour.py
(traits, churn, event times, the clock), records.py (how sources write people down),
activity.py (orders, tickets, deals, web days), dirt.py (defects and broken records), this
module (assembly, truth, persistence), changes.py (mutations), file_drops.py (partner files).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from profile_assets.sandbox import activity, dirt, records
from profile_assets.sandbox.behaviour import (
    AS_OF,
    WINDOW_DAYS,
    Events,
    churn_labels,
    days_since_as_of,
    draw_events,
)
from profile_assets.sandbox.behaviour import (
    SOURCE_TIMEZONES as SOURCE_TIMEZONES,  # re-exported: the contract names it here
)
from profile_assets.sandbox.people import Population, draw_population, people_frame
from profile_assets.sandbox.pools import Pools, build_pools
from profile_assets.sandbox.records import CRM, FILES, STOREFRONT, SUPPORT, Accounts

IDENTITY_TABLES: tuple[str, ...] = (
    "crm_contacts",
    "support_users",
    "storefront_customers",
    "file_contacts",
)


@dataclass
class World:
    """A generated world: the source tables the pipeline sees, and the truth it never sees.

    `people` holds each person's true identity and hidden traits; `truth_records` says which
    person (if any) is behind every source row and why a row is broken; `truth_labels` holds
    churn and purchase outcomes in (cutoff, as_of] (`active_at_cutoff` marks who could churn).
    """

    seed: int
    as_of: pd.Timestamp
    cutoff: pd.Timestamp
    people: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    truth_records: pd.DataFrame
    truth_labels: pd.DataFrame


# --- broken records and truth ----------------------------------------------------------------

_B = dirt.Breakage
BREAKAGE: dict[str, tuple[dirt.Breakage, ...]] = {
    "crm_contacts": (_B("malformed_email", "email"), _B("future_date", "date_of_birth", "%Y-%m-%d"),
                     _B("bad_date", "date_of_birth", "%Y-%m-%d")),
    "crm_deals": (_B("amount_wrong_type", "amount"), _B("negative_amount", "amount"),
                  _B("future_date", "closedate"), _B("missing_id", "contact_ids")),
    "support_users": (_B("malformed_email", "email"),),
    "storefront_customers": (_B("malformed_email", "email"), _B("future_date", "date_of_birth")),
    "storefront_orders": (_B("negative_amount", "amount"), _B("future_date", "order_ts")),
    "storefront_cart_items": (_B("negative_amount", "quantity"),),
    "file_contacts": (_B("malformed_email", "E-mail"), _B("future_date", "Birth Date", "%d/%m/%Y"),
                      _B("bad_date", "Birth Date", "%d/%m/%Y")),
    "file_orders": (_B("amount_wrong_type", "amount"), _B("negative_amount", "amount"),
                    _B("missing_id", "contact_ref"), _B("future_date", "order date")),
}  # fmt: skip
ID_COLUMNS: dict[str, str] = {"file_contacts": "contact_ref", "file_orders": "order_ref"}
TABLE_ORDER: tuple[str, ...] = (
    "crm_contacts",
    "crm_deals",
    "support_users",
    "support_tickets",
    "web_user_days",
    "storefront_customers",
    "storefront_carts",
    "storefront_cart_items",
    "storefront_orders",
    "storefront_order_items",
    "file_contacts",
    "file_orders",
)


def id_strings(values: pd.Series) -> pa.Array:
    """Record ids as Arrow strings (compact for tens of millions of truth rows)."""
    if values.dtype == object:
        return pa.array(values.to_numpy(), type=pa.string())
    return pa.array(values.to_numpy()).cast(pa.string())


def truth_frame(
    tables: list[str], ids: list[pd.Series], persons: list[np.ndarray], reasons: list[np.ndarray]
) -> pd.DataFrame:
    """truth_records for the given tables (person position -1 = anonymous), built column-wise:
    concatenating per-table frames costs seconds of NA checks on object columns."""
    sizes = [len(i) for i in ids]
    codes = np.repeat([TABLE_ORDER.index(t) for t in tables], sizes).astype(np.int8)
    person = np.concatenate(persons).astype(np.int64) if persons else np.empty(0, np.int64)
    person_id = pd.array(person + 1, dtype="Int64")
    person_id[person < 0] = pd.NA
    chunks = pa.chunked_array([id_strings(i) for i in ids], type=pa.string())
    return pd.DataFrame(
        {
            "source": pd.Categorical.from_codes(codes, categories=list(TABLE_ORDER)),
            "source_id": pd.Series(pd.arrays.ArrowStringArray(chunks)),
            "person_id": person_id,
            "broken_reason": np.concatenate(reasons) if reasons else np.empty(0, object),
        }
    )


# --- the world -------------------------------------------------------------------------------


def _memberships(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Who appears where: not everyone is in every source."""
    store = rng.random(n) < 0.70
    crm = rng.random(n) < 0.60
    support = rng.random(n) < np.where(store, 0.38, 0.12)
    files = rng.random(n) < 0.08
    flags = {"storefront": store, "crm": crm, "support": support, "files": files}
    return {source: np.flatnonzero(flag) for source, flag in flags.items()}


def _created(rng, signup: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Record creation relative to signup, kept strictly in the past."""
    return np.clip(signup + rng.uniform(lo, hi, len(signup)), -1100.0, -0.5)


def _first_event_day(events: Events, n: int) -> np.ndarray:
    first = np.full(n, np.inf)
    np.minimum.at(first, events.person, events.day)
    return first


@dataclass
class _Part:
    """What one source system contributes: its tables, the person behind every row (-1 for
    anonymous) and the purchases it saw (person, day) for the labels."""

    tables: dict[str, pd.DataFrame]
    persons: dict[str, np.ndarray]
    purchases: list[tuple[np.ndarray, np.ndarray]]


def _storefront_part(rng, pop: Population, pools: Pools, store: Accounts) -> _Part:
    traits, shoppers = pop.traits, pop.member["storefront"]
    carts = draw_events(rng, traits, shoppers, 0.25)
    direct = draw_events(rng, traits, shoppers, 0.015)
    browse = draw_events(rng, traits, shoppers[rng.random(len(shoppers)) < 0.9], 0.6)
    anonymous = activity.anonymous_visits(rng, int(0.3 * len(pop)))
    guest_days = anonymous.day[anonymous.add_to_carts > 0] + 1.0 / 1440
    commerce = activity.storefront_commerce(rng, pop, pools, store, carts, guest_days, direct)
    tables = {
        "storefront_customers": records.storefront_customers(rng, pop, pools, store),
        **commerce.tables,
        "web_user_days": activity.web_user_days(rng, pop, store, browse, commerce, anonymous),
    }
    kept = ~commerce.order_cancelled
    return _Part(
        tables,
        {"storefront_customers": store.person, **commerce.persons},
        [(commerce.order_person[kept], commerce.order_day[kept])],
    )


def _support_part(rng, pop: Population, pools: Pools, store: Accounts) -> _Part:
    traits, helped = pop.traits, pop.member["support"]
    unhappy = traits["dissatisfaction"].to_numpy()[helped]
    tickets = draw_events(rng, traits, helped, 0.04 * (1 + 4 * unhappy), engagement_power=0.3)
    first_ticket = _first_event_day(tickets, len(pop))[helped]
    signup = traits["signup_day"].to_numpy()[helped]
    user_created = np.minimum(_created(rng, signup, 0, 300), first_ticket - 1e-3)
    users = records.open_accounts(
        rng, len(pop), helped, user_created, SUPPORT.duplicate_share, 10_001
    )
    ticket_frame, ticket_person = activity.support_tickets(rng, pop, users, tickets)
    return _Part(
        {"support_users": records.support_users(rng, pop, pools, users, store),
         "support_tickets": ticket_frame},
        {"support_users": users.person, "support_tickets": ticket_person},
        [],
    )  # fmt: skip


def _crm_part(rng, pop: Population, pools: Pools, store: Accounts) -> _Part:
    leads = pop.member["crm"]
    created = _created(rng, pop.traits["signup_day"].to_numpy()[leads], -60, 200)
    contacts = records.open_accounts(rng, len(pop), leads, created, CRM.duplicate_share, 101)
    deals = draw_events(rng, pop.traits, leads, 0.06, start_day=created)
    deal_frame, deal_person, won, close_day = activity.crm_deals(rng, pop, contacts, deals)
    return _Part(
        {
            "crm_contacts": records.crm_contacts(rng, pop, pools, contacts, store),
            "crm_deals": deal_frame,
        },
        {"crm_contacts": contacts.person, "crm_deals": deal_person},
        [(deal_person[won], close_day[won])],
    )


def _files_part(rng, pop: Population, pools: Pools) -> _Part:
    partners = pop.member["files"]
    created = _created(rng, pop.traits["signup_day"].to_numpy()[partners], 0, 200)
    accounts = records.open_accounts(rng, len(pop), partners, created, FILES.duplicate_share, 1)
    offline = draw_events(rng, pop.traits, partners, 0.12, start_day=created)
    contacts = records.file_contacts(rng, pop, pools, accounts)
    refs = contacts["contact_ref"].to_numpy()
    orders, order_person = activity.file_orders(rng, pop, accounts, refs, offline)
    return _Part(
        {"file_contacts": contacts, "file_orders": orders},
        {"file_contacts": accounts.person, "file_orders": order_person},
        [(order_person, days_since_as_of(orders["order date"]))],
    )


def _truth_labels(pop: Population, purchases: list[tuple[np.ndarray, np.ndarray]]):
    labels = churn_labels(pop.traits)
    purchased = np.zeros(len(pop), dtype=bool)
    for who, day in purchases:
        in_window = (day > -WINDOW_DAYS) & (day <= 0)
        purchased[who[in_window]] = True
    return pd.DataFrame(
        {
            "person_id": np.arange(1, len(pop) + 1, dtype=np.int64),
            "churned": labels["churned"].to_numpy(),
            "purchased": purchased,
            "active_at_cutoff": labels["active_at_cutoff"].to_numpy(),
        }
    )


def generate_world(n_people: int, seed: int = 7) -> World:
    """A world of `n_people` people; the same seed always gives the same world."""
    rng = np.random.default_rng(seed)
    pools = build_pools()
    pop = draw_population(rng, n_people, pools)
    pop.member = _memberships(rng, n_people)
    shoppers = pop.member["storefront"]
    signup = pop.traits["signup_day"].to_numpy()[shoppers]
    store = records.open_accounts(rng, n_people, shoppers, signup, STOREFRONT.duplicate_share, 1001)
    parts = [
        _storefront_part(rng, pop, pools, store),
        _support_part(rng, pop, pools, store),
        _crm_part(rng, pop, pools, store),
        _files_part(rng, pop, pools),
    ]
    tables = {name: frame for part in parts for name, frame in part.tables.items()}
    persons = {name: person for part in parts for name, person in part.persons.items()}
    truth_labels = _truth_labels(pop, [p for part in parts for p in part.purchases])
    truth_tables = [name for name in TABLE_ORDER if name in persons]
    reasons = [dirt.break_records(rng, tables[name], BREAKAGE.get(name, ()), AS_OF)
               for name in truth_tables]  # fmt: skip
    return World(
        seed=seed,
        as_of=AS_OF,
        cutoff=AS_OF - pd.Timedelta(days=WINDOW_DAYS),
        people=people_frame(pop, pools),
        tables={name: tables[name] for name in TABLE_ORDER},
        truth_records=truth_frame(
            truth_tables,
            [tables[name][ID_COLUMNS.get(name, "id")] for name in truth_tables],
            [persons[name] for name in truth_tables],
            reasons,
        ),
        truth_labels=truth_labels,
    )


# --- persistence -----------------------------------------------------------------------------

_ARROW_NATIVE = (pa.string(), pa.large_string(), pa.date32(), pa.null())


def _json_columns(frame: pd.DataFrame) -> list[str]:
    """Object columns Parquet cannot hold as they are (mixed types, lists): stored as JSON."""
    encoded = []
    for column in [c for c in frame.columns if frame[c].dtype == np.dtype(object)]:
        try:
            native = pa.array(frame[column].to_numpy(), from_pandas=True).type in _ARROW_NATIVE
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            native = False
        if not native:
            encoded.append(column)
    return encoded


def _write_parquet(frame: pd.DataFrame, path: Path) -> list[str]:
    encoded = _json_columns(frame)
    if encoded:
        frame = frame.copy()
        for column in encoded:
            frame[column] = [None if v is None else json.dumps(v) for v in frame[column]]
    frame.to_parquet(path, index=False)
    return encoded


def _read_parquet(path: Path, encoded: list[str]) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    for column in encoded:
        frame[column] = dirt.objects(None if v is None else json.loads(v) for v in frame[column])
    for column in frame.columns[frame.dtypes == "string"]:
        frame[column] = frame[column].astype("string[pyarrow]")  # as truth_frame makes them
    return frame


def save_world(world: World, directory: str | Path) -> None:
    """Every table, the people and the truth as Parquet, plus world.json to read them back."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    frames = {**world.tables, **_truth_frames(world)}
    encoded = {name: _write_parquet(frame, directory / f"{name}.parquet")
               for name, frame in frames.items()}  # fmt: skip
    meta = {
        "seed": world.seed,
        "as_of": world.as_of.isoformat(),
        "cutoff": world.cutoff.isoformat(),
        "tables": list(world.tables),
        "json_columns": encoded,
    }
    (directory / "world.json").write_text(json.dumps(meta, indent=2))


def load_world(directory: str | Path) -> World:
    directory = Path(directory)
    meta = json.loads((directory / "world.json").read_text())
    frames = {name: _read_parquet(directory / f"{name}.parquet", columns)
              for name, columns in meta["json_columns"].items()}  # fmt: skip
    return World(
        seed=meta["seed"],
        as_of=pd.Timestamp(meta["as_of"]),
        cutoff=pd.Timestamp(meta["cutoff"]),
        people=frames["people"],
        tables={name: frames[name] for name in meta["tables"]},
        truth_records=frames["truth_records"],
        truth_labels=frames["truth_labels"],
    )


def _truth_frames(world: World) -> dict[str, pd.DataFrame]:
    return {
        "people": world.people,
        "truth_records": world.truth_records,
        "truth_labels": world.truth_labels,
    }


def write_ground_truth(world: World, path: str | Path) -> None:
    """The answer key for tests and benchmarks (the pipeline never reads it): people,
    truth_records and truth_labels as Parquet plus ground_truth.json with the world's clock."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in _truth_frames(world).items():
        _write_parquet(frame, directory / f"{name}.parquet")
    summary = {
        "seed": world.seed,
        "as_of": world.as_of.isoformat(),
        "cutoff": world.cutoff.isoformat(),
        "rows": {name: len(frame) for name, frame in world.tables.items()},
        "people": len(world.people),
    }
    (directory / "ground_truth.json").write_text(json.dumps(summary, indent=2))
