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


def _objects(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


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
    return _objects(
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


def _addresses(rng: np.random.Generator, country: np.ndarray, pools: Pools) -> dict:
    n = len(country)
    place = _sample_in_country(rng, country, pools.place_span)
    street = pools.streets[_sample_in_country(rng, country, pools.street_span)]
    number = rng.integers(1, 9999, n)
    line1 = _objects(
        f"{s} {k}" if c in ("DE", "NL") else f"{k} {s}"
        for c, k, s in zip(country, number, street, strict=True)
    )
    line2 = np.full(n, None, dtype=object)
    units = dirt.pick(rng, n, 0.15)
    line2[units] = _objects(f"Apt {k}" for k in rng.integers(1, 40, len(units)))
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
    address = _addresses(rng, country, pools)
    moved = dirt.pick(rng, n, 0.12)
    new_address = _addresses(rng, country[moved], pools)
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
    before = np.flatnonzero(day < changed_day[person])
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
    values = pd.to_datetime(ns, utc=True)
    return pd.Series(values.where(finite, pd.NaT))


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
    return _objects(
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
            "contact_ref": _objects(f"PC-{i:07d}" for i in accounts.ids),
            "First Name": record["first_name"],
            "Last Name": record["last_name"],
            "E-mail": record["email"],
            "Phone": record["phone"],
            "Birth Date": _date_strings(record["date_of_birth"], "%d/%m/%Y"),
            "Street": _join_lines(record["address_line1"], record["address_line2"]),
            "Town": record["city"],
            "Post Code": record["postcode"],
            "Country": _objects(_COUNTRY_NAMES[c] for c in record["country"]),
            "updated": to_timestamps(updated),
        }
    )
