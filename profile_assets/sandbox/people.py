"""The population: who the people are, how they can be reached, and how that changed.

Names are drawn with real or Zipf-like frequencies per country, so namesakes (distinct people
with the same first and last name) appear and grow with the size of the world. Some people marry
(new last name, new email), some move, households share a family@ mailbox and small firms an
orders@ one. `people_frame` is the ground-truth table; `population_from_people` turns it back
into arrays so later changes can render records of the same people.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from profile_assets.sandbox import dirt
from profile_assets.sandbox.behaviour import (
    HISTORY_DAYS,
    days_since_as_of,
    draw_traits,
    to_timestamps,
)
from profile_assets.sandbox.pools import COUNTRIES, COUNTRY_WEIGHTS, Pools, phone_length


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


_EMAIL_PATTERNS = (  # (weight, template) over first, last, initial, number, domain
    (0.30, "{f}.{l}@{d}"),
    (0.15, "{f}{l}@{d}"),
    (0.15, "{i}{l}@{d}"),
    (0.05, "{f}_{l}@{d}"),
    (0.10, "{f}.{l}{n2}@{d}"),
    (0.10, "{f}{l}{n2}@{d}"),
    (0.05, "{l}.{f}@{d}"),
    (0.10, "{f}{n3}@{d}"),
)


def _make_emails(
    rng: np.random.Generator,
    first: np.ndarray,
    last: np.ndarray,
    country: np.ndarray,
    pools: Pools,
    work_share: float,
) -> np.ndarray:
    """Personal addresses from name patterns; free-mail domains by country, some work domains.
    All lowercase: case variants are dirt added per record."""
    n = len(first)
    weights = np.array([w for w, _ in _EMAIL_PATTERNS])
    templates = [t for _, t in _EMAIL_PATTERNS]
    pattern = rng.choice(len(weights), n, p=weights / weights.sum())
    number = rng.integers(10, 1000, n)
    domain = np.empty(n, dtype=object)
    for code, (domains, p) in pools.free_domains.items():
        where = np.flatnonzero(country == code)
        domain[where] = domains[rng.choice(len(domains), len(where), p=p)]
    work = dirt.pick(rng, n, work_share)
    domain[work] = pools.work_domains[rng.integers(0, len(pools.work_domains), len(work))]
    return dirt.objects(
        templates[k].format(f=f, l=s, i=f[:1], n2=m % 90 + 10, n3=m, d=d)
        for k, f, s, m, d in zip(
            pattern,
            [dirt.ascii_fold(f) or "x" for f in first],
            [dirt.ascii_fold(s) or "y" for s in last],
            number,
            domain,
            strict=True,
        )
    )


def _unique_across(rng: np.random.Generator, *columns: np.ndarray) -> None:
    """Mail providers give every address to one owner: renumber later duplicates in place."""
    sizes = [len(c) for c in columns]
    merged = np.concatenate(columns)
    dirt.make_unique(rng, merged, plus=False)
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
    """National significant numbers: a valid prefix, then a non-zero digit and random digits."""
    out = np.empty(len(country), dtype=object)
    for code in COUNTRIES:
        where = np.flatnonzero(country == code)
        prefixes = pools.phone_prefixes[code]
        pick = rng.integers(0, len(prefixes), len(where))
        for k, prefix in enumerate(prefixes):
            rest = phone_length(code) - len(prefix)
            mine = where[pick == k]
            # US exchanges (and the rest here, for simplicity) never start with 0 or 1
            digits = rng.integers(2 * 10 ** (rest - 1), 10**rest, len(mine))
            out[mine] = [f"{prefix}{d}" for d in digits]
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
            pop.last[other] = pop.last[head]
            if pop.country[other] == pop.country[head]:  # else: family abroad, same mailbox
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


def people_frame(pop: Population, pools: Pools) -> pd.DataFrame:
    """The ground-truth people table: current identity, what it was before, hidden traits,
    and which sources each person is in."""
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


def population_from_people(people: pd.DataFrame, pools: Pools) -> Population:
    """Rebuild the identity arrays from the people table, so later changes render new records
    of existing people exactly like the generator did."""
    first_index = {name: i for i, name in reversed(list(enumerate(pools.first_names)))}
    country = people["country"].astype(object).to_numpy()
    e164 = people["phone"].to_numpy()
    calling = {"US": 2, "CA": 2, "GB": 3, "DE": 3, "FR": 3, "NL": 3}
    traits = people[["engagement", "engagement_trend", "dissatisfaction", "abandon_propensity",
                     "churn_hazard"]].copy()  # fmt: skip
    traits["signup_day"] = days_since_as_of(people["signup_at"])
    traits["churn_day"] = days_since_as_of(people["churn_at"])
    address_columns = ("address_line1", "address_line2", "city", "state", "postcode")
    return Population(
        country=country,
        first_idx=np.array([first_index[f] for f in people["first_name"]], dtype=np.int64),
        last=people["last_name"].to_numpy(dtype=object),
        prev_last=people["previous_last_name"].to_numpy(dtype=object),
        name_changed_day=days_since_as_of(people["name_changed_at"]),
        email=people["email"].to_numpy(dtype=object),
        prev_email=people["previous_email"].to_numpy(dtype=object),
        second_email=people["secondary_email"].to_numpy(dtype=object),
        shared_email=people["shared_email"].to_numpy(dtype=object),
        phone=dirt.objects(p[calling[c] :] for p, c in zip(e164, country, strict=True)),
        address={k: people[k].to_numpy(dtype=object) for k in address_columns},
        prev_address={k: people[f"previous_{k}"].to_numpy(dtype=object) for k in address_columns},
        moved_day=days_since_as_of(people["moved_at"]),
        dob=people["date_of_birth"].to_numpy().astype("datetime64[D]"),
        traits=traits,
    )
