"""How each source system wrote people down: its habits, its accounts, its identity tables.

Every record of a person is an independent, imperfect copy of the person's identity *at the time
it was written* (before or after a move or a marriage), with the source's own dirt. Some people
hold a second account in the same source (a duplicate), opened later and never with the first
account's email.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from profile_assets.sandbox import dirt
from profile_assets.sandbox.behaviour import SECOND, Events, to_timestamps
from profile_assets.sandbox.people import Population
from profile_assets.sandbox.pools import Pools


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
    unique_email: bool = True  # the source keys accounts by email


STOREFRONT = SourceStyle(dirt.NameDirt(0.05, 0.02, 0.005, 0.03), 0.0, 0.3, (3, 1, 1, 3, 1),
                         0.03, 0.1, 0.5, 0.04)  # fmt: skip
CRM = SourceStyle(dirt.NameDirt(0.12, 0.04, 0.02, 0.05), 0.08, 0.35, (3, 3, 2, 1, 1),
                  0.3, 0.15, 0.7, 0.08)  # fmt: skip
SUPPORT = SourceStyle(dirt.NameDirt(0.1, 0.03, 0.03, 0.1), 0.02, 0.6, (2, 2, 2, 2, 1),
                      1.0, 0.0, 1.0, 0.07)  # fmt: skip
FILES = SourceStyle(dirt.NameDirt(0.1, 0.05, 0.03, 0.15), 0.25, 0.2, (4, 1, 0, 3, 1),
                    0.05, 0.2, 0.3, 0.10, unique_email=False)  # fmt: skip
_DUPLICATE_NAMES = dirt.NameDirt(0.3, 0.12, 0.03, 0.08)


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
    first = np.empty(n, dtype=object)
    for chosen, name_dirt in ((~duplicate, style.names), (duplicate, _DUPLICATE_NAMES)):
        rows = np.flatnonzero(chosen)
        first[rows], last[rows] = dirt.dirty_names(
            rng, pop.first_idx[person[rows]], last[rows], pools, name_dirt
        )
    email = _choose_email(rng, pop, person, day, duplicate)
    if style.unique_email:
        dirt.make_unique(rng, email)
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


def _modified(rng: np.random.Generator, created: np.ndarray) -> np.ndarray:
    """A last-modified day between creation and as_of, skewed towards creation."""
    span = np.maximum(-created - 2 * SECOND, 0.0)
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


def open_accounts(
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
    day = np.concatenate([created, np.minimum(dup_created, -SECOND)])
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


def _identity(rng, pop, pools, accounts: Accounts, style: SourceStyle):
    updated = _modified(rng, accounts.created)
    seen_on = accounts.created + rng.random(len(updated)) * (updated - accounts.created)
    record = render_identity(rng, pop, pools, accounts.person, seen_on, style, accounts.duplicate)
    return record, updated


def _date_strings(dob: np.ndarray, fmt: str) -> np.ndarray:
    series = pd.Series(dob.astype("datetime64[ns]"))
    return series.dt.strftime(fmt).astype(object).where(series.notna(), None).to_numpy()


def storefront_customers(rng, pop, pools, accounts: Accounts) -> pd.DataFrame:
    record, updated = _identity(rng, pop, pools, accounts, STOREFRONT)
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


def crm_contacts(rng, pop, pools, accounts: Accounts, store: Accounts) -> pd.DataFrame:
    record, updated = _identity(rng, pop, pools, accounts, CRM)
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


def full_names(rng, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Zendesk keeps one name string; people write it as they like."""
    style = rng.choice(4, len(first), p=[0.85, 0.06, 0.05, 0.04])
    return dirt.objects(
        (f"{f} {s}", f"{s}, {f}", f, f"{f} {s}".lower())[k]
        for k, f, s in zip(style, first, last, strict=True)
    )


def support_users(rng, pop, pools, accounts: Accounts, store: Accounts) -> pd.DataFrame:
    record, updated = _identity(rng, pop, pools, accounts, SUPPORT)
    shop_row = store.primary_of[accounts.person]
    linked = (shop_row >= 0) & ~accounts.duplicate & (rng.random(len(shop_row)) < 0.5)
    external = np.full(len(shop_row), None, dtype=object)
    external[linked] = store.ids[shop_row[linked]].astype(str).astype(object)
    active = rng.random(len(updated)) >= 0.01
    return pd.DataFrame(
        {
            "id": accounts.ids.astype(np.int64),
            "name": full_names(rng, record["first_name"], record["last_name"]),
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


def file_contacts(rng, pop, pools, accounts: Accounts) -> pd.DataFrame:
    record, updated = _identity(rng, pop, pools, accounts, FILES)
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
