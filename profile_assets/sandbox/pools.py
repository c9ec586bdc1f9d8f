"""Vocabulary pools the sandbox world samples from.

Faker is slow per call (tens of microseconds), far too slow to render a million people one by
one. So it is used exactly once, here, to build fixed pools of names, streets, places and
domains; the world generator then samples *indexes* into these pools with numpy. Pools are
built from a fixed Faker seed: the world's own seed decides who gets what, so two worlds with
different seeds share a vocabulary but not people.

Every pool is restricted to text that cp1252 can encode, because partner file drops are written
in legacy encodings and must round-trip exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from faker import Faker

# Country mix of the customer base: mostly a US retailer with some international customers,
# so phone numbers and postcodes come in several national formats.
COUNTRY_WEIGHTS: dict[str, float] = {
    "US": 0.85,
    "GB": 0.05,
    "CA": 0.04,
    "DE": 0.02,
    "FR": 0.02,
    "NL": 0.02,
}
COUNTRIES: tuple[str, ...] = tuple(COUNTRY_WEIGHTS)
CURRENCY: dict[str, str] = {
    "US": "USD",
    "GB": "GBP",
    "CA": "CAD",
    "DE": "EUR",
    "FR": "EUR",
    "NL": "EUR",
}
_LOCALE = {"US": "en_US", "GB": "en_GB", "CA": "en_CA", "DE": "de_DE", "FR": "fr_FR", "NL": "nl_NL"}

# Nicknames people use instead of their given name on some forms.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will", "Billy"),
    "Robert": ("Bob", "Rob", "Bobby"),
    "Elizabeth": ("Liz", "Beth", "Betty"),
    "Katherine": ("Kate", "Katie", "Kathy"),
    "Catherine": ("Cathy", "Kate"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Michael": ("Mike", "Mikey"),
    "Richard": ("Rick", "Rich", "Dick"),
    "Thomas": ("Tom", "Tommy"),
    "Joseph": ("Joe", "Joey"),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Margaret": ("Maggie", "Peggy", "Meg"),
    "Jennifer": ("Jen", "Jenny"),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Susan": ("Sue", "Susie"),
    "Rebecca": ("Becky", "Becca"),
    "Alexander": ("Alex",),
    "Benjamin": ("Ben",),
    "Samuel": ("Sam",),
    "Jonathan": ("Jon",),
    "Nicholas": ("Nick",),
    "Edward": ("Ed", "Ted", "Eddie"),
    "Andrew": ("Andy", "Drew"),
    "Steven": ("Steve",),
    "Stephen": ("Steve",),
    "Kenneth": ("Ken", "Kenny"),
    "Timothy": ("Tim",),
    "Gregory": ("Greg",),
    "Joshua": ("Josh",),
    "Jacob": ("Jake",),
    "Charles": ("Charlie", "Chuck"),
    "Deborah": ("Deb", "Debbie"),
    "Victoria": ("Vicky", "Tori"),
    "Christine": ("Chris", "Chrissy"),
    "Jessica": ("Jess",),
    "Stephanie": ("Steph",),
    "Samantha": ("Sam",),
    "Alexandra": ("Alex", "Lexi"),
    "Abigail": ("Abby",),
    "Kimberly": ("Kim",),
    "Cynthia": ("Cindy",),
    "Pamela": ("Pam",),
    "Theresa": ("Terri", "Tess"),
    "Donald": ("Don",),
    "Ronald": ("Ron",),
    "Lawrence": ("Larry",),
    "Raymond": ("Ray",),
    "Gerald": ("Jerry",),
    "Frederick": ("Fred",),
    "Peter": ("Pete",),
    "Douglas": ("Doug",),
    "Jeffrey": ("Jeff",),
    "Zachary": ("Zach",),
    "Nathan": ("Nate",),
    "Patrick": ("Pat",),
    "Philip": ("Phil",),
    "David": ("Dave",),
    "John": ("Jack", "Johnny"),
    "Judith": ("Judy",),
    "Jacqueline": ("Jackie",),
    "Dorothy": ("Dot", "Dottie"),
    "Barbara": ("Barb",),
    "Gabriel": ("Gabe",),
    "Johann": ("Hans",),
    "Johannes": ("Hans",),
    "Wilhelm": ("Willi",),
}

_FREE_DOMAINS: dict[str, dict[str, float]] = {
    "US": {
        "gmail.com": 0.45,
        "yahoo.com": 0.14,
        "hotmail.com": 0.08,
        "outlook.com": 0.1,
        "aol.com": 0.05,
        "icloud.com": 0.12,
        "comcast.net": 0.06,
    },
    "CA": {"gmail.com": 0.5, "yahoo.ca": 0.15, "hotmail.com": 0.15, "rogers.com": 0.2},
    "GB": {
        "gmail.com": 0.4,
        "hotmail.co.uk": 0.2,
        "yahoo.co.uk": 0.15,
        "btinternet.com": 0.15,
        "outlook.com": 0.1,
    },
    "DE": {"gmail.com": 0.3, "gmx.de": 0.3, "web.de": 0.25, "t-online.de": 0.15},
    "FR": {"gmail.com": 0.4, "orange.fr": 0.25, "free.fr": 0.2, "laposte.net": 0.15},
    "NL": {"gmail.com": 0.45, "ziggo.nl": 0.2, "hotmail.com": 0.2, "kpnmail.nl": 0.15},
}

# Mobile/area prefixes that libphonenumber accepts as valid for each country.
_PHONE_PREFIXES: dict[str, tuple[str, ...]] = {
    "US": (
        "212",
        "213",
        "305",
        "312",
        "404",
        "415",
        "469",
        "503",
        "512",
        "602",
        "617",
        "702",
        "713",
        "718",
        "801",
        "813",
        "858",
        "917",
        "206",
        "303",
        "347",
        "510",
        "646",
        "773",
    ),
    "CA": ("416", "604", "514", "403", "613", "780", "905", "647"),
    "GB": ("7400", "7700", "7723", "7827", "7911", "7958"),
    "DE": ("151", "152", "157", "176"),
    "FR": ("6", "7"),
    "NL": ("6",),
}
_PHONE_LENGTH = {"US": 10, "CA": 10, "GB": 10, "DE": 11, "FR": 9, "NL": 9}

SKU_COUNT = 1500
TICKET_SUBJECTS: tuple[str, ...] = (
    "Where is my order?",
    "Refund request",
    "Item arrived damaged",
    "Cannot log in to my account",
    "Change delivery address",
    "Wrong size delivered",
    "Discount code not working",
    "Question about a product",
    "Cancel my order",
    "Charged twice",
)
SATISFACTION_COMMENTS: dict[str, tuple[str, ...]] = {
    "good": ("Quick and helpful, thanks!", "Great service", "Solved in minutes", "Thank you"),
    "bad": (
        "Still waiting for my refund",
        "Nobody answered for a week",
        "Problem not solved",
        "Very disappointing",
        "I will not order again",
    ),
}
DEAL_PRODUCTS: tuple[str, ...] = (
    "Home office bundle",
    "Kitchen refit",
    "Gift cards",
    "Garden furniture",
    "Loyalty upgrade",
    "Bulk order",
)


@dataclass(frozen=True)
class Pools:
    """Flat pools across all countries; `*_span[country]` gives each country's (start, stop)."""

    first_names: np.ndarray
    first_weights: np.ndarray
    first_span: dict[str, tuple[int, int]]
    nick_table: np.ndarray  # (len(first_names), 3) object, None-padded
    nick_count: np.ndarray  # int8 per first name
    last_names: np.ndarray
    last_weights: np.ndarray
    last_span: dict[str, tuple[int, int]]
    streets: np.ndarray
    street_span: dict[str, tuple[int, int]]
    cities: np.ndarray
    states: np.ndarray
    postcodes: np.ndarray
    place_span: dict[str, tuple[int, int]]
    free_domains: dict[str, tuple[np.ndarray, np.ndarray]]  # country -> (domains, weights)
    work_domains: np.ndarray
    phone_prefixes: dict[str, np.ndarray]
    sku_names: np.ndarray
    sku_prices: np.ndarray


def _encodable(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _zipf_weights(n: int, exponent: float = 0.9) -> np.ndarray:
    """Zipf-like frequencies for pools Faker gives without real frequencies."""
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def _weighted(names) -> tuple[list[str], np.ndarray]:
    """Faker pools are either frequency dicts (en_US) or plain tuples (most locales)."""
    if isinstance(names, dict):
        items = [(k, v) for k, v in names.items() if _encodable(k)]
        weights = np.array([v for _, v in items], dtype=float)
        return [k for k, _ in items], weights / weights.sum()
    unique = list(dict.fromkeys(n for n in names if _encodable(n) and " " not in n))
    return unique, _zipf_weights(len(unique))


def _first_names(locale: str) -> tuple[list[str], np.ndarray]:
    provider = Faker(locale).provider("faker.providers.person")
    male, w_male = _weighted(provider.first_names_male)
    female, w_female = _weighted(provider.first_names_female)
    merged: dict[str, float] = {}
    for names, weights in ((male, w_male), (female, w_female)):
        for name, weight in zip(names, weights, strict=True):
            merged[name] = merged.get(name, 0.0) + weight / 2
    weights = np.array(list(merged.values()))
    return list(merged), weights / weights.sum()


def _unique_calls(fake: Faker, method: str, count: int, attempts: int = 20) -> list[str]:
    seen: dict[str, None] = {}
    for _ in range(count * attempts):
        value = getattr(fake, method)()
        if _encodable(value):
            seen[value] = None
        if len(seen) == count:
            break
    return list(seen)


def _places(fake: Faker, country: str, count: int) -> list[tuple[str, str | None, str]]:
    """(city, state, postcode) triples; postcode consistent with the state where it matters."""
    places = []
    for city in _unique_calls(fake, "city", count):
        if country == "US":
            state = fake.random_element(fake.provider("faker.providers.address").states_abbr)
            places.append((city, state, fake.zipcode_in_state(state)))
        elif country == "CA":
            postcode = fake.postcode().replace(" ", "")
            places.append((city, fake.province_abbr(), f"{postcode[:3]} {postcode[3:]}"))
        else:
            places.append((city, None, fake.postcode()))
    return places


def _concat(parts: dict[str, list]) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    spans, start, flat = {}, 0, []
    for country, values in parts.items():
        spans[country] = (start, start + len(values))
        start += len(values)
        flat.extend(values)
    array = np.empty(len(flat), dtype=object)
    array[:] = flat
    return array, spans


def _nick_table(first_names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    table = np.full((len(first_names), 3), None, dtype=object)
    count = np.zeros(len(first_names), dtype=np.int8)
    for i, name in enumerate(first_names):
        nicks = NICKNAMES.get(name, ())
        table[i, : len(nicks)] = nicks
        count[i] = len(nicks)
    return table, count


def _skus(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    names = np.array([f"SKU-{i:05d}" for i in rng.choice(90000, SKU_COUNT, replace=False)], object)
    prices = np.round(np.exp(rng.normal(3.2, 0.8, SKU_COUNT)), 2) + 0.99
    return names, prices


_IMMIGRANT_SHARE = 0.25


def _with_immigrant_surnames(
    last: dict[str, list[str]], weights: list[np.ndarray]
) -> tuple[dict[str, list[str]], list[np.ndarray]]:
    """Give each country's surnames a long tail from the other countries' pools: one Faker
    locale alone has too few surnames, which would make namesakes far commoner than real."""
    out_names, out_weights = {}, []
    for (country, names), own in zip(last.items(), weights, strict=True):
        known = set(names)
        others = list(dict.fromkeys(
            n for c, other in last.items() if c != country for n in other if n not in known
        ))  # fmt: skip
        out_names[country] = names + others
        tail = _zipf_weights(len(others), exponent=0.6)
        out_weights.append(np.concatenate([own * (1 - _IMMIGRANT_SHARE), tail * _IMMIGRANT_SHARE]))
    return out_names, out_weights


@cache
def build_pools() -> Pools:
    """Build every pool once per process (about a second); worlds share the result."""
    first, last, streets, places, free = {}, {}, {}, {}, {}
    first_w, last_w = [], []
    for country in COUNTRIES:
        fake = Faker(_LOCALE[country])
        fake.seed_instance(20260101)
        names, weights = _first_names(_LOCALE[country])
        first[country] = names
        first_w.append(weights)
        surnames, s_weights = _weighted(fake.provider("faker.providers.person").last_names)
        last[country] = surnames
        last_w.append(s_weights)
        streets[country] = _unique_calls(fake, "street_name", 300)
        places[country] = _places(fake, country, 600 if country == "US" else 120)
        domains = _FREE_DOMAINS[country]
        weights = np.array(list(domains.values()))
        free[country] = (np.array(list(domains), dtype=object), weights / weights.sum())
    us = Faker("en_US")
    us.seed_instance(20260101)
    first_names, first_span = _concat(first)
    last, last_w = _with_immigrant_surnames(last, last_w)
    last_names, last_span = _concat(last)
    street_arr, street_span = _concat(streets)
    cities, place_span = _concat({c: [p[0] for p in v] for c, v in places.items()})
    states, _ = _concat({c: [p[1] for p in v] for c, v in places.items()})
    postcodes, _ = _concat({c: [p[2] for p in v] for c, v in places.items()})
    nick_table, nick_count = _nick_table(first_names)
    sku_names, sku_prices = _skus(np.random.default_rng(20260101))
    return Pools(
        first_names=first_names,
        first_weights=np.concatenate(first_w),
        first_span=first_span,
        nick_table=nick_table,
        nick_count=nick_count,
        last_names=last_names,
        last_weights=np.concatenate(last_w),
        last_span=last_span,
        streets=street_arr,
        street_span=street_span,
        cities=cities,
        states=states,
        postcodes=postcodes,
        place_span=place_span,
        free_domains=free,
        work_domains=np.array(_unique_calls(us, "domain_name", 400), dtype=object),
        phone_prefixes={c: np.array(p, dtype=object) for c, p in _PHONE_PREFIXES.items()},
        sku_names=sku_names,
        sku_prices=sku_prices,
    )


def phone_length(country: str) -> int:
    """Digits in a national significant number (without trunk 0 or country code)."""
    return _PHONE_LENGTH[country]
