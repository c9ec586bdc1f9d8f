"""The seeded sandbox world: people, the source tables they leave behind, and the truth.

`generate_world(n, seed)` draws a population (identity plus hidden behaviour traits), lets the
behaviour model produce events, then renders every source system's tables the way that system
would have recorded them: each record of a person is an independent, imperfect copy of the
person's identity *at the time it was written* (before or after a move or a marriage), with the
source's own habits of dirt. Everything is vectorised with numpy; only dirty values and unique
strings (emails, ids) go through Python.

The world carries its ground truth (`truth_records`, `truth_labels`, `people`); the pipeline
never reads it, tests and benchmarks do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from profile_assets.sandbox import dirt
from profile_assets.sandbox.behaviour import (
    HISTORY_DAYS,
    WINDOW_DAYS,
    Events,
    churn_labels,
    draw_events,
    draw_traits,
)
from profile_assets.sandbox.pools import (
    COUNTRIES,
    COUNTRY_WEIGHTS,
    CURRENCY,
    DEAL_PRODUCTS,
    SATISFACTION_COMMENTS,
    TICKET_SUBJECTS,
    Pools,
    build_pools,
    phone_length,
)

AS_OF = pd.Timestamp("2026-10-01T00:00:00Z")
SOURCE_TIMEZONES: dict[str, str] = {
    "crm": "UTC",  # HubSpot: ISO-8601 UTC with milliseconds
    "support": "UTC",  # Zendesk: ISO-8601 UTC seconds
    "web": "America/Los_Angeles",  # GA4 property time zone for `date`
    "storefront": "America/New_York",  # Postgres timestamp without time zone, store local
    "file": "Europe/London",  # partner file drops, naive local time
}
IDENTITY_TABLES: tuple[str, ...] = (
    "crm_contacts",
    "support_users",
    "storefront_customers",
    "file_contacts",
)
_SECOND = 1.0 / 86400.0


@dataclass
class World:
    seed: int
    as_of: pd.Timestamp
    cutoff: pd.Timestamp
    people: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    truth_records: pd.DataFrame
    truth_labels: pd.DataFrame


# --- how each source writes people down ------------------------------------------------------


@dataclass(frozen=True)
class SourceStyle:
    """A source's habits: name dirt, what it leaves empty, how its users type phone numbers."""

    names: dirt.NameDirt
    email_missing: float
    phone_missing: float
    phone_styles: tuple[float, float, float, float, float]
    address_missing: float
    address_variation: float
    dob_missing: float
    duplicate_share: float


STOREFRONT = SourceStyle(dirt.NameDirt(0.05, 0.02, 0.005, 0.03), 0.0, 0.3, (3, 1, 1, 3, 1),
                         0.03, 0.1, 0.5, 0.04)  # fmt: skip
CRM = SourceStyle(dirt.NameDirt(0.12, 0.04, 0.02, 0.05), 0.08, 0.35, (3, 3, 2, 1, 1),
                  0.3, 0.15, 0.7, 0.08)  # fmt: skip
SUPPORT = SourceStyle(dirt.NameDirt(0.1, 0.03, 0.03, 0.1), 0.02, 0.6, (2, 2, 2, 2, 1),
                      1.0, 0.0, 1.0, 0.07)  # fmt: skip
FILES = SourceStyle(dirt.NameDirt(0.1, 0.05, 0.03, 0.15), 0.25, 0.2, (4, 1, 0, 3, 1),
                    0.05, 0.2, 0.3, 0.10)  # fmt: skip
_DUPLICATE_NAMES = dirt.NameDirt(0.3, 0.12, 0.03, 0.08)


# --- population ------------------------------------------------------------------------------


@dataclass
class Population:
    """Identity arrays by person position (person_id - 1); `prev_*` hold the state before a
    marriage (`name_changed_day`) or a move (`moved_day`), None when it never changed."""

    country: np.ndarray
    first_idx: np.ndarray
    last: np.ndarray
    prev_last: np.ndarray
    name_changed_day: np.ndarray
    email: np.ndarray
    prev_email: np.ndarray
    second_email: np.ndarray
    shared_email: np.ndarray
    phone: np.ndarray  # national significant number
    address: dict[str, np.ndarray]
    prev_address: dict[str, np.ndarray]
    moved_day: np.ndarray
    dob: np.ndarray  # datetime64[D]
    traits: pd.DataFrame
    member: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.country)


def _sample_in_country(
    rng: np.random.Generator,
    country: np.ndarray,
    span: dict[str, tuple[int, int]],
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Pool indexes drawn within each person's country span (weighted if weights given)."""
    out = np.empty(len(country), dtype=np.int64)
    for code, (lo, hi) in span.items():
        where = np.flatnonzero(country == code)
        p = None if weights is None else weights[lo:hi] / weights[lo:hi].sum()
        out[where] = lo + rng.choice(hi - lo, len(where), p=p)
    return out


_EMAIL_PATTERNS = (
    (0.30, lambda f, l, n: f"{f}.{l}"),
    (0.15, lambda f, l, n: f"{f}{l}"),
    (0.15, lambda f, l, n: f"{f[:1]}{l}"),
    (0.05, lambda f, l, n: f"{f}_{l}"),
    (0.10, lambda f, l, n: f"{f}.{l}{n % 100}"),
    (0.10, lambda f, l, n: f"{f}{l}{n % 90 + 10}"),
    (0.05, lambda f, l, n: f"{l}.{f}"),
    (0.10, lambda f, l, n: f"{f}{n % 1000}"),
)


def _make_emails(
    rng: np.random.Generator,
    first: np.ndarray,
    last: np.ndarray,
    country: np.ndarray,
    pools: Pools,
    work_share: float,
) -> np.ndarray:
    """Personal addresses from name patterns; free-mail domains by country, some work domains."""
    n = len(first)
    weights = np.array([w for w, _ in _EMAIL_PATTERNS])
    pattern = rng.choice(len(weights), n, p=weights / weights.sum())
    number = rng.integers(0, 10_000, n)
    domain = np.empty(n, dtype=object)
    for code, (domains, p) in pools.free_domains.items():
        where = np.flatnonzero(country == code)
        domain[where] = domains[rng.choice(len(domains), len(where), p=p)]
    work = dirt.pick(rng, n, work_share)
    domain[work] = pools.work_domains[rng.integers(0, len(pools.work_domains), len(work))]
    folded_first = [dirt.ascii_fold(f) or "x" for f in first]
    folded_last = [dirt.ascii_fold(s) or "y" for s in last]
    return dirt.objects(
        _EMAIL_PATTERNS[k][1](f, s, m) + "@" + d
        for k, f, s, m, d in zip(pattern, folded_first, folded_last, number, domain, strict=True)
    )


def _unique_across(rng: np.random.Generator, *columns: np.ndarray) -> None:
    """Mail providers give every address to one owner: renumber later duplicates in place."""
    sizes = [len(c) for c in columns]
    merged = np.concatenate(columns)
    dirt.make_unique(rng, merged)
    start = 0
    for column, size in zip(columns, sizes, strict=True):
        column[:] = merged[start : start + size]
        start += size


def draw_addresses(rng: np.random.Generator, country: np.ndarray, pools: Pools) -> dict:
    n = len(country)
    place = _sample_in_country(rng, country, pools.place_span)
    street = pools.streets[_sample_in_country(rng, country, pools.street_span)]
    number = rng.integers(1, 9999, n)
    line1 = dirt.objects(
        f"{s} {k}" if c in ("DE", "NL") else f"{k} {s}"
        for c, k, s in zip(country, number, street, strict=True)
    )
    line2 = np.full(n, None, dtype=object)
    units = dirt.pick(rng, n, 0.15)
    line2[units] = dirt.objects(f"Apt {k}" for k in rng.integers(1, 40, len(units)))
    return {
        "address_line1": line1,
        "address_line2": line2,
        "city": pools.cities[place],
        "state": pools.states[place],
        "postcode": pools.postcodes[place],
    }


def _phones(rng: np.random.Generator, country: np.ndarray, pools: Pools) -> np.ndarray:
    out = np.empty(len(country), dtype=object)
    for code in COUNTRIES:
        where = np.flatnonzero(country == code)
        prefixes = pools.phone_prefixes[code][
            rng.integers(0, len(pools.phone_prefixes[code]), len(where))
        ]
        rest = phone_length(code) - np.array([len(p) for p in prefixes], dtype=np.int64)
        tails = rng.integers(0, 10**9, len(where)) * 100 + rng.integers(0, 100, len(where))
        lead = rng.integers(2, 10, len(where))  # US exchanges cannot start with 0 or 1
        out[where] = [
            p + str(d) + f"{t:011d}"[: r - 1] for p, d, t, r in zip(prefixes, lead, tails, rest)
        ]
    return out


def _shared_mailboxes(rng: np.random.Generator, pop: Population, pools: Pools) -> None:
    """Households share a family@ address (and a surname and a home); small firms an orders@."""
    n = len(pop)
    shared = np.full(n, None, dtype=object)
    order = rng.permutation(n)
    n_house = int(n * 0.006)
    n_firm = int(n * 0.002)
    heads = order[:n_house]
    members = order[n_house : n_house + n_house * 2].reshape(n_house, 2)
    keep_second = rng.random(n_house) < 0.4
    for k, head in enumerate(heads):
        group = [head, members[k, 0]] + ([members[k, 1]] if keep_second[k] else [])
        for other in group[1:]:
            pop.country[other] = pop.country[head]
            pop.last[other] = pop.last[head]
            for column in pop.address:
                pop.address[column][other] = pop.address[column][head]
        last = dirt.ascii_fold(pop.last[head]) or "home"
        shared[group] = (f"family.{last}@gmail.com", f"{last}family@yahoo.com",
                         f"info@{last}{k}.net")[k % 3]  # fmt: skip
    firms = order[n_house * 3 : n_house * 3 + n_firm * 3].reshape(n_firm, 3)
    for k, group in enumerate(firms):
        domain = pools.work_domains[k % len(pools.work_domains)]
        if k >= len(pools.work_domains):
            name, _, tld = domain.partition(".")
            domain = f"{name}{k // len(pools.work_domains)}.{tld}"
        shared[group[: 2 + k % 2]] = ("orders@", "info@", "office@")[k % 3] + domain
    pop.shared_email = shared


def draw_population(rng: np.random.Generator, n: int, pools: Pools) -> Population:
    """People with Zipf-like names (so namesakes grow with size), contacts, moves, marriages."""
    weights = np.array(list(COUNTRY_WEIGHTS.values()))
    country = np.array(COUNTRIES, dtype=object)[rng.choice(len(COUNTRIES), n, p=weights)]
    first_idx = _sample_in_country(rng, country, pools.first_span, pools.first_weights)
    last = pools.last_names[_sample_in_country(rng, country, pools.last_span, pools.last_weights)]
    traits = draw_traits(rng, n)
    signup = traits["signup_day"].to_numpy()
    married = dirt.pick(rng, n, 0.03)
    prev_last = np.full(n, None, dtype=object)
    prev_last[married] = last[married]
    last = last.copy()
    last[married] = pools.last_names[
        _sample_in_country(rng, country[married], pools.last_span, pools.last_weights)
    ]
    name_changed = np.full(n, np.inf)
    name_changed[married] = rng.uniform(np.maximum(signup[married], -HISTORY_DAYS), -1.0)
    address = draw_addresses(rng, country, pools)
    moved = dirt.pick(rng, n, 0.12)
    new_address = draw_addresses(rng, country[moved], pools)
    prev_address = {k: np.full(n, None, dtype=object) for k in address}
    for column, values in address.items():
        prev_address[column][moved] = values[moved]
        values[moved] = new_address[column]
    moved_day = np.full(n, np.inf)
    moved_day[moved] = rng.uniform(np.maximum(signup[moved], -HISTORY_DAYS), -1.0)
    pop = Population(
        country=country,
        first_idx=first_idx,
        last=last,
        prev_last=prev_last,
        name_changed_day=name_changed,
        email=np.empty(0, dtype=object),
        prev_email=np.full(n, None, dtype=object),
        second_email=np.full(n, None, dtype=object),
        shared_email=np.full(n, None, dtype=object),
        phone=_phones(rng, country, pools),
        address=address,
        prev_address=prev_address,
        moved_day=moved_day,
        dob=(np.datetime64("2008-09-30") - rng.integers(0, 62 * 365, n)).astype("datetime64[D]"),
        traits=traits,
    )
    _shared_mailboxes(rng, pop, pools)
    first = pools.first_names[first_idx]
    pop.email = _make_emails(rng, first, pop.last, country, pools, 0.15)
    pop.prev_email[married] = _make_emails(
        rng, first[married], prev_last[married], country[married], pools, 0.1
    )
    has_second = dirt.pick(rng, n, 0.35)
    pop.second_email[has_second] = _make_emails(
        rng, first[has_second], pop.last[has_second], country[has_second], pools, 0.5
    )
    _unique_across(rng, pop.email, pop.prev_email, pop.second_email)
    return pop


# --- rendering records -----------------------------------------------------------------------


def _at(values: np.ndarray, previous: np.ndarray, changed_day: np.ndarray, person, day):
    """A person's value at a given day: the previous one before the change, if any."""
    out = values[person].copy()
    change = changed_day[person]
    before = np.flatnonzero(np.isfinite(change) & (day < change))
    out[before] = previous[person[before]]
    return out


def render_identity(
    rng: np.random.Generator,
    pop: Population,
    pools: Pools,
    person: np.ndarray,
    day: np.ndarray,
    style: SourceStyle,
    duplicate: np.ndarray,
) -> dict[str, np.ndarray]:
    """How a source wrote down `person` on `day`: stale or current, with its dirt."""
    n = len(person)
    last = _at(pop.last, pop.prev_last, pop.name_changed_day, person, day)
    first, last = dirt.dirty_names(rng, pop.first_idx[person], last, pools, style.names)
    dup = np.flatnonzero(duplicate)
    dup_first, dup_last = dirt.dirty_names(
        rng, pop.first_idx[person[dup]], last[dup], pools, _DUPLICATE_NAMES
    )
    first[dup], last[dup] = dup_first, dup_last
    email = _choose_email(rng, pop, person, day, duplicate)
    dirt.vary_email_case(rng, email, 0.08)
    dirt.blank(rng, email, style.email_missing)
    country = pop.country[person]
    phone = dirt.format_phones(rng, country, pop.phone[person], style.phone_styles)
    dirt.blank(rng, phone, style.phone_missing)
    record = {"first_name": first, "last_name": last, "email": email, "phone": phone}
    for column, values in pop.address.items():
        record[column] = _at(values, pop.prev_address[column], pop.moved_day, person, day)
    dirt.vary_addresses(rng, record["address_line1"], style.address_variation)
    dirt.vary_postcodes(rng, record["postcode"], country, style.address_variation / 2)
    missing = dirt.pick(rng, n, style.address_missing)
    for column in pop.address:
        record[column][missing] = None
    record["country"] = country
    dob = pop.dob[person].copy()
    dob[dirt.pick(rng, n, style.dob_missing)] = np.datetime64("NaT")
    record["date_of_birth"] = dob
    return record


def _choose_email(rng, pop: Population, person, day, duplicate) -> np.ndarray:
    """Which of a person's addresses a record carries. A second account of the same person is
    never opened with the address of the first one."""
    email = _at(pop.email, pop.prev_email, pop.name_changed_day, person, day)
    u = rng.random(len(person))
    second = pop.second_email[person]
    has_second = second != None  # noqa: E711 - elementwise on object array
    use_second = has_second & ((u < 0.15) | duplicate)
    email[use_second] = second[use_second]
    vary = np.flatnonzero(((u >= 0.15) & (u < 0.25)) | (duplicate & ~has_second))
    dirt.vary_emails(rng, email, vary)
    shared = pop.shared_email[person]
    use_shared = (shared != None) & (rng.random(len(person)) < 0.6) & ~duplicate  # noqa: E711
    email[use_shared] = shared[use_shared]
    return email


# --- time ------------------------------------------------------------------------------------


def to_timestamps(days: np.ndarray) -> pd.Series:
    """Float days relative to AS_OF -> UTC timestamps at whole seconds (inf -> NaT)."""
    days = np.asarray(days, dtype=np.float64)
    finite = np.isfinite(days)
    seconds = np.round(np.where(finite, days, 0.0) * 86400.0).astype(np.int64)
    ns = AS_OF.value + seconds * 1_000_000_000
    ns[~finite] = np.iinfo(np.int64).min  # NaT
    return pd.Series(ns.view("datetime64[ns]")).dt.tz_localize("UTC")


def _modified(rng: np.random.Generator, created: np.ndarray) -> np.ndarray:
    """A last-modified day between creation and as_of, skewed towards creation."""
    span = np.maximum(-created - 2 * _SECOND, 0.0)
    return created + span * rng.beta(0.7, 1.8, len(created))


# --- identity tables -------------------------------------------------------------------------


@dataclass
class Accounts:
    """Records of people in one identity table, in id order, with lookups by person."""

    person: np.ndarray
    created: np.ndarray
    duplicate: np.ndarray
    ids: np.ndarray
    primary_of: np.ndarray  # person position -> row, -1 if none
    dup_of: np.ndarray  # person position -> duplicate row, -1 if none

    def assign(self, rng: np.random.Generator, events: Events, share: float = 0.4) -> np.ndarray:
        """Row of the account each event lands on: the duplicate account takes a share of what
        happens after it was opened."""
        row = self.primary_of[events.person]
        dup = self.dup_of[events.person]
        use_dup = (dup >= 0) & (rng.random(len(events)) < share)
        use_dup &= events.day > self.created[np.maximum(dup, 0)]
        return np.where(use_dup, dup, row)


def _accounts(
    rng: np.random.Generator,
    n_people: int,
    members: np.ndarray,
    created: np.ndarray,
    dup_share: float,
    first_id: int,
) -> Accounts:
    """Primary records at `created`, plus later duplicate records for a share of members."""
    dups = members[dirt.pick(rng, len(members), dup_share)]
    primary_created = np.full(n_people, np.nan)
    primary_created[members] = created
    dup_created = primary_created[dups] + rng.random(len(dups)) * -primary_created[dups]
    person = np.concatenate([members, dups])
    day = np.concatenate([created, np.minimum(dup_created, -_SECOND)])
    duplicate = np.concatenate([np.zeros(len(members), bool), np.ones(len(dups), bool)])
    order = np.argsort(day, kind="stable")
    person, day, duplicate = person[order], day[order], duplicate[order]
    primary_of = np.full(n_people, -1, dtype=np.int64)
    dup_of = np.full(n_people, -1, dtype=np.int64)
    rows = np.arange(len(person))
    primary_of[person[~duplicate]] = rows[~duplicate]
    dup_of[person[duplicate]] = rows[duplicate]
    ids = first_id + rows
    return Accounts(person, day, duplicate, ids, primary_of, dup_of)


def _identity(rng, pop, pools, accounts: Accounts, style: SourceStyle, unique: bool):
    updated = _modified(rng, accounts.created)
    seen_on = accounts.created + rng.random(len(updated)) * (updated - accounts.created)
    record = render_identity(
        rng, pop, pools, accounts.person, seen_on, style, accounts.duplicate
    )
    if unique:
        dirt.make_unique(rng, record["email"])
    return record, updated


def _date_strings(dob: np.ndarray, fmt: str) -> np.ndarray:
    series = pd.Series(dob.astype("datetime64[ns]"))
    return series.dt.strftime(fmt).astype(object).where(series.notna(), None).to_numpy()


def _storefront_customers(rng, pop, pools, accounts: Accounts) -> pd.DataFrame:
    record, updated = _identity(rng, pop, pools, accounts, STOREFRONT, unique=True)
    dob = pd.Series(record.pop("date_of_birth").astype("datetime64[ns]"))
    return pd.DataFrame(
        {
            "id": accounts.ids.astype(np.int64),
            **record,
            "date_of_birth": dob.dt.date.astype(object).where(dob.notna(), None),
            "created_at": to_timestamps(accounts.created),
            "updated_at": to_timestamps(updated),
        }
    )


def _crm_contacts(rng, pop, pools, accounts: Accounts, store: Accounts) -> pd.DataFrame:
    record, updated = _identity(rng, pop, pools, accounts, CRM, unique=True)
    shop_row = store.primary_of[accounts.person]
    linked = (shop_row >= 0) & (rng.random(len(shop_row)) < 0.5)
    shop_id = np.full(len(shop_row), None, dtype=object)
    shop_id[linked] = store.ids[shop_row[linked]].astype(str).astype(object)
    return pd.DataFrame(
        {
            "id": accounts.ids.astype(str).astype(object),
            "email": record["email"],
            "firstname": record["first_name"],
            "lastname": record["last_name"],
            "phone": record["phone"],
            "address": _join_lines(record["address_line1"], record["address_line2"]),
            "city": record["city"],
            "zip": record["postcode"],
            "state": record["state"],
            "country": record["country"],
            "date_of_birth": _date_strings(record["date_of_birth"], "%Y-%m-%d"),
            "storefront_customer_id": shop_id,
            "createdate": to_timestamps(accounts.created),
            "lastmodifieddate": to_timestamps(updated),
            "archived": np.zeros(len(updated), dtype=bool),
            "archived_at": to_timestamps(np.full(len(updated), np.inf)),
        }
    )


def _join_lines(line1: np.ndarray, line2: np.ndarray) -> np.ndarray:
    out = line1.copy()
    both = np.flatnonzero((line1 != None) & (line2 != None))  # noqa: E711
    out[both] = [f"{a}, {b}" for a, b in zip(line1[both], line2[both], strict=True)]
    return out


def _full_names(rng, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Zendesk keeps one name string; people write it as they like."""
    style = rng.choice(4, len(first), p=[0.85, 0.06, 0.05, 0.04])
    templates = ("{f} {l}", "{l}, {f}", "{f}", "{f} {l}".lower())
    return dirt.objects(
        templates[s].format(f=f, l=l) if s != 3 else f"{f} {l}".lower()
        for s, f, l in zip(style, first, last, strict=True)
    )


def _support_users(rng, pop, pools, accounts: Accounts, store: Accounts) -> pd.DataFrame:
    record, updated = _identity(rng, pop, pools, accounts, SUPPORT, unique=True)
    shop_row = store.primary_of[accounts.person]
    linked = (shop_row >= 0) & ~accounts.duplicate & (rng.random(len(shop_row)) < 0.5)
    external = np.full(len(shop_row), None, dtype=object)
    external[linked] = store.ids[shop_row[linked]].astype(str).astype(object)
    active = rng.random(len(updated)) >= 0.01
    return pd.DataFrame(
        {
            "id": accounts.ids.astype(np.int64),
            "name": _full_names(rng, record["first_name"], record["last_name"]),
            "email": record["email"],
            "phone": record["phone"],
            "external_id": external,
            "role": "end-user",
            "active": active,
            "created_at": to_timestamps(accounts.created),
            "updated_at": to_timestamps(updated),
        }
    )


_COUNTRY_NAMES = {"US": "USA", "GB": "United Kingdom", "CA": "Canada", "DE": "Germany",
                  "FR": "France", "NL": "Netherlands"}  # fmt: skip


def _file_contacts(rng, pop, pools, accounts: Accounts) -> pd.DataFrame:
    record, updated = _identity(rng, pop, pools, accounts, FILES, unique=False)
    return pd.DataFrame(
        {
            "contact_ref": dirt.objects(f"PC-{i:07d}" for i in accounts.ids),
            "First Name": record["first_name"],
            "Last Name": record["last_name"],
            "E-mail": record["email"],
            "Phone": record["phone"],
            "Birth Date": _date_strings(record["date_of_birth"], "%d/%m/%Y"),
            "Street": _join_lines(record["address_line1"], record["address_line2"]),
            "Town": record["city"],
            "Post Code": record["postcode"],
            "Country": dirt.objects(_COUNTRY_NAMES[c] for c in record["country"]),
            "updated": to_timestamps(updated),
        }
    )


# --- storefront commerce ---------------------------------------------------------------------

_ITEM_GAP_DAYS = 3.0 / 1440.0  # about three minutes between cart adds


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


def _storefront_commerce(
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
    status = np.where(converted, "converted", np.where(last_added < -1.0, "abandoned", "open"))
    cart_ids = 1 + np.arange(len(day))
    customer_id = pd.array(np.where(account >= 0, store.ids[np.maximum(account, 0)], 0))
    customer_id = pd.Series(customer_id, dtype="Int64").mask(account < 0)
    carts_df = pd.DataFrame(
        {
            "id": cart_ids.astype(np.int64),
            "customer_id": customer_id,
            "status": pd.Categorical(status, categories=["open", "converted", "abandoned"]),
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
    settle = np.where(status == "refunded", rng.uniform(5, 30, len(o_day)), rng.uniform(0.5, 5, len(o_day)))
    updated = np.minimum(o_day + settle, -_SECOND)
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


def _support_tickets(rng, pop: Population, users: Accounts, tickets: Events) -> pd.DataFrame:
    """Tickets with satisfaction ratings: unhappy people rate bad more often (and churn more)."""
    n = len(tickets)
    requester = users.ids[users.assign(rng, tickets, share=0.5)]
    resolved = tickets.day + rng.exponential(2.0, n)
    open_now = resolved >= -_SECOND
    age = -tickets.day
    status = np.where(age > 30, "closed", "solved").astype(object)
    status[open_now] = np.array(["new", "open", "pending"], dtype=object)[
        np.minimum((age[open_now] * 2).astype(int), 2)
    ]
    updated = np.where(open_now, tickets.day + rng.random(n) * age, resolved)
    unhappy = pop.traits["dissatisfaction"].to_numpy()[tickets.person]
    offered = ~open_now & (rng.random(n) < 0.6)
    rated = offered & (rng.random(n) < 0.55)
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


def _crm_deals(rng, pop: Population, contacts: Accounts, deals: Events):
    n = len(deals)
    row = contacts.assign(rng, deals)
    close = deals.day + rng.uniform(3, 45, n)
    closed = close < -_SECOND
    unhappy = pop.traits["dissatisfaction"].to_numpy()[deals.person]
    won = closed & (rng.random(n) < np.clip(0.85 - unhappy, 0.2, 0.9))
    stage = _OPEN_STAGES[rng.integers(0, len(_OPEN_STAGES), n)]
    stage[closed] = "closedlost"
    stage[won] = "closedwon"
    modified = np.minimum(np.where(closed, close, deals.day) + rng.uniform(0, 2, n), -_SECOND)
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
                f"{last} - {p}" for last, p in zip(pop.last[deals.person[order]], product[order])
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


def _file_orders(rng, pop: Population, contacts: Accounts, refs: np.ndarray, orders: Events):
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
    """Calendar day number (since `origin`) of each instant in time zone `tz`."""
    local = to_timestamps(days).dt.tz_convert(tz).dt.tz_localize(None)
    return ((local - origin).to_numpy().astype("timedelta64[D]")).astype(np.int64)


def _client_ids(rng, n: int, first_day: np.ndarray) -> np.ndarray:
    """GA4 pseudo ids: random number dot first-visit unix seconds."""
    first_seen = (AS_OF.value // 10**9 + np.round(first_day * 86400)).astype(np.int64)
    return dirt.objects(
        f"{r}.{s}" for r, s in zip(rng.integers(10**8, 2 * 10**9, n), first_seen, strict=True)
    )


@dataclass(frozen=True)
class _Visits:
    """Anonymous visitor-days; days with a cart add also leave a guest cart in the shop."""

    visitor: np.ndarray
    day: np.ndarray
    add_to_carts: np.ndarray
    n_visitors: int


def _anonymous_visits(rng, n_visitors: int) -> _Visits:
    visits = rng.geometric(0.5, n_visitors)
    visitor = np.repeat(np.arange(n_visitors), visits)
    day = rng.uniform(-HISTORY_DAYS, -_SECOND, len(visitor))
    atc = (rng.random(len(day)) < 0.08) * (1 + rng.poisson(0.3, len(day)))
    return _Visits(visitor, day, atc.astype(np.int64), n_visitors)


def _web_user_days(rng, pop, store: Accounts, browse: Events, commerce: Commerce,
                   anonymous: _Visits) -> pd.DataFrame:  # fmt: skip
    """Per-user-per-day GA4 rows: logged-in customers (browsing plus their carts), the same
    customers on logged-out days, and anonymous visitors."""
    shopper = commerce.cart_person >= 0
    person = np.concatenate([browse.person, commerce.cart_person[shopper]])
    day = np.concatenate([browse.day, commerce.cart_day[shopper]])
    atc = np.concatenate([rng.poisson(0.2, len(browse)), commerce.cart_items[shopper]])
    revenue = np.concatenate([np.zeros(len(browse)), commerce.cart_revenue[shopper]])
    origin = (AS_OF - pd.Timedelta(days=HISTORY_DAYS + 2)).tz_convert(SOURCE_TIMEZONES["web"])
    origin = origin.tz_localize(None).normalize()
    local = _local_day_index(day, SOURCE_TIMEZONES["web"], origin)
    key, row = np.unique(person * 4096 + local, return_inverse=True)
    known = {
        "sessions": np.bincount(row).astype(np.int64),
        "atc": np.bincount(row, weights=atc).astype(np.int64),
        "revenue": np.bincount(row, weights=revenue),
        "purchases": np.bincount(row, weights=revenue > 0).astype(np.int64),
        "local": key % 4096,
    }
    known_person = key // 4096
    n_known = len(key)
    web_people, first_row = np.unique(known_person, return_index=True)
    client_pos = np.full(len(pop), -1, dtype=np.int64)
    client_pos[web_people] = np.arange(len(web_people))
    first_day = known["local"][first_row] - HISTORY_DAYS - 2.0
    clients = _client_ids(rng, 2 * len(web_people), np.tile(first_day, 2))
    second_device = (rng.random(n_known) < 0.25) * len(web_people)
    row_client = clients[client_pos[known_person] + second_device]
    account_names = dirt.objects(store.ids.astype(str))  # one string per account, shared by rows
    user_id = account_names[store.primary_of[known_person]]
    user_id[rng.random(n_known) < 0.15] = None
    anon_clients = _client_ids(rng, anonymous.n_visitors, np.full(anonymous.n_visitors, -HISTORY_DAYS))
    anon_local = _local_day_index(anonymous.day, SOURCE_TIMEZONES["web"], origin)
    n_anon = len(anon_local)
    sessions = np.concatenate([known["sessions"] + rng.poisson(0.4, n_known),
                               np.ones(n_anon, dtype=np.int64)])  # fmt: skip
    local_all = np.concatenate([known["local"], anon_local])
    dates = dirt.objects(d.date() for d in pd.date_range(origin, periods=local_all.max() + 1))
    frame = pd.DataFrame(
        {
            "date": dates[local_all],
            "user_id": np.concatenate([user_id, np.full(n_anon, None, dtype=object)]),
            "client_id": np.concatenate([row_client, anon_clients[anonymous.visitor]]),
            "sessions": sessions.astype(np.int32),
            "page_views": (sessions * (1 + rng.poisson(3.0, len(sessions)))).astype(np.int32),
            "add_to_carts": np.concatenate(
                [known["atc"], anonymous.add_to_carts]
            ).astype(np.int32),
            "purchases": np.concatenate(
                [known["purchases"], np.zeros(n_anon, np.int64)]
            ).astype(np.int32),
            "revenue": np.round(np.concatenate([known["revenue"], np.zeros(n_anon)]), 2),
        }
    )
    order = np.argsort(local_all, kind="stable")
    return frame.iloc[order].reset_index(drop=True)


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


# --- people (ground truth) -------------------------------------------------------------------


def _people_frame(pop: Population, pools: Pools) -> pd.DataFrame:
    n = len(pop)
    traits = pop.traits
    frame = pd.DataFrame(
        {
            "person_id": np.arange(1, n + 1, dtype=np.int64),
            "first_name": pools.first_names[pop.first_idx],
            "last_name": pop.last,
            "email": pop.email,
            "secondary_email": pop.second_email,
            "shared_email": pop.shared_email,
            "phone": dirt.e164(pop.country, pop.phone),
            "date_of_birth": pop.dob.astype("datetime64[ns]"),
            **pop.address,
            "country": pd.Categorical(pop.country, categories=COUNTRIES),
            "previous_last_name": pop.prev_last,
            "previous_email": pop.prev_email,
            "name_changed_at": to_timestamps(pop.name_changed_day),
            **{f"previous_{k}": v for k, v in pop.prev_address.items()},
            "moved_at": to_timestamps(pop.moved_day),
        }
    )
    for column in ("engagement", "engagement_trend", "dissatisfaction", "abandon_propensity",
                   "churn_hazard"):  # fmt: skip
        frame[column] = traits[column].to_numpy()
    frame["signup_at"] = to_timestamps(traits["signup_day"].to_numpy())
    frame["churn_at"] = to_timestamps(traits["churn_day"].to_numpy())
    for source, members in pop.member.items():
        flag = np.zeros(n, dtype=bool)
        flag[members] = True
        frame[f"in_{source}"] = flag
    return frame


def _days_since_as_of(timestamps: pd.Series) -> np.ndarray:
    """UTC timestamps -> float days relative to AS_OF (NaT -> inf)."""
    days = ((timestamps - AS_OF) / pd.Timedelta(days=1)).to_numpy(dtype=float)
    return np.where(np.isnan(days), np.inf, days)


def population_from_people(people: pd.DataFrame, pools: Pools) -> Population:
    """Rebuild the identity arrays from the people table, so later changes render new records
    of existing people exactly like the generator did."""
    first_index = {name: i for i, name in reversed(list(enumerate(pools.first_names)))}
    country = people["country"].astype(object).to_numpy()
    e164 = people["phone"].to_numpy()
    calling = {"US": 2, "CA": 2, "GB": 3, "DE": 3, "FR": 3, "NL": 3}
    traits = people[["engagement", "engagement_trend", "dissatisfaction", "abandon_propensity",
                     "churn_hazard"]].copy()  # fmt: skip
    traits["signup_day"] = _days_since_as_of(people["signup_at"])
    traits["churn_day"] = _days_since_as_of(people["churn_at"])
    address_columns = ("address_line1", "address_line2", "city", "state", "postcode")
    return Population(
        country=country,
        first_idx=np.array([first_index[f] for f in people["first_name"]], dtype=np.int64),
        last=people["last_name"].to_numpy(dtype=object),
        prev_last=people["previous_last_name"].to_numpy(dtype=object),
        name_changed_day=_days_since_as_of(people["name_changed_at"]),
        email=people["email"].to_numpy(dtype=object),
        prev_email=people["previous_email"].to_numpy(dtype=object),
        second_email=people["secondary_email"].to_numpy(dtype=object),
        shared_email=people["shared_email"].to_numpy(dtype=object),
        phone=dirt.objects(p[calling[c] :] for p, c in zip(e164, country, strict=True)),
        address={k: people[k].to_numpy(dtype=object) for k in address_columns},
        prev_address={k: people[f"previous_{k}"].to_numpy(dtype=object) for k in address_columns},
        moved_day=_days_since_as_of(people["moved_at"]),
        dob=people["date_of_birth"].to_numpy().astype("datetime64[D]"),
        traits=traits,
    )


# --- the world -------------------------------------------------------------------------------


def _memberships(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Who appears where: not everyone is in every source."""
    store = rng.random(n) < 0.70
    crm = rng.random(n) < 0.60
    support = rng.random(n) < np.where(store, 0.38, 0.12)
    files = rng.random(n) < 0.08
    return {k: np.flatnonzero(v) for k, v in
            {"storefront": store, "crm": crm, "support": support, "files": files}.items()}  # fmt: skip


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
    anonymous = _anonymous_visits(rng, int(0.3 * len(pop)))
    guest_days = anonymous.day[anonymous.add_to_carts > 0] + 1.0 / 1440
    commerce = _storefront_commerce(rng, pop, pools, store, carts, guest_days, direct)
    tables = {
        "storefront_customers": _storefront_customers(rng, pop, pools, store),
        **commerce.tables,
        "web_user_days": _web_user_days(rng, pop, store, browse, commerce, anonymous),
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
    users = _accounts(rng, len(pop), helped, user_created, SUPPORT.duplicate_share, 10_001)
    ticket_frame, ticket_person = _support_tickets(rng, pop, users, tickets)
    return _Part(
        {"support_users": _support_users(rng, pop, pools, users, store),
         "support_tickets": ticket_frame},
        {"support_users": users.person, "support_tickets": ticket_person},
        [],
    )  # fmt: skip


def _crm_part(rng, pop: Population, pools: Pools, store: Accounts) -> _Part:
    leads = pop.member["crm"]
    created = _created(rng, pop.traits["signup_day"].to_numpy()[leads], -60, 200)
    contacts = _accounts(rng, len(pop), leads, created, CRM.duplicate_share, 101)
    deals = draw_events(rng, pop.traits, leads, 0.06, start_day=created)
    deal_frame, deal_person, won, close_day = _crm_deals(rng, pop, contacts, deals)
    return _Part(
        {"crm_contacts": _crm_contacts(rng, pop, pools, contacts, store), "crm_deals": deal_frame},
        {"crm_contacts": contacts.person, "crm_deals": deal_person},
        [(deal_person[won], close_day[won])],
    )


def _files_part(rng, pop: Population, pools: Pools) -> _Part:
    partners = pop.member["files"]
    created = _created(rng, pop.traits["signup_day"].to_numpy()[partners], 0, 200)
    accounts = _accounts(rng, len(pop), partners, created, FILES.duplicate_share, 1)
    offline = draw_events(rng, pop.traits, partners, 0.12, start_day=created)
    contacts = _file_contacts(rng, pop, pools, accounts)
    orders, order_person = _file_orders(rng, pop, accounts, contacts["contact_ref"].to_numpy(),
                                        offline)  # fmt: skip
    return _Part(
        {"file_contacts": contacts, "file_orders": orders},
        {"file_contacts": accounts.person, "file_orders": order_person},
        [(order_person, _days_since_as_of(orders["order date"]))],
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
    store = _accounts(rng, n_people, shoppers, signup, STOREFRONT.duplicate_share, 1001)
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
        people=_people_frame(pop, pools),
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
    for column in frame.columns[frame.dtypes == object]:
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
