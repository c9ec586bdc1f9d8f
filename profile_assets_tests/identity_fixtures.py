"""Sandbox world -> canonical person records, for identity tests and `bench/identity.py`.

A stand-in for the staging layer's person records: the same canonical columns (`source`,
`record_id`, person fields, `link_id`), mapped straight from the world's vendor tables. The
storefront customer id is the link id: the storefront record carries its own, the CRM contact
its `storefront_customer_id`, the support user its `external_id`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LINK_PREFIX = "storefront:"


def _link(values: pd.Series) -> pd.Series:
    text = values.astype(object).where(values.notna(), None)
    return text.map(lambda v: None if v is None else f"{LINK_PREFIX}{v}")


def _dates(values: pd.Series, fmt: str | None = None) -> pd.Series:
    parsed = pd.to_datetime(values.astype(object), format=fmt, errors="coerce")
    return parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), None)


def crm_records(crm: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": "crm_contacts",
            "record_id": crm["id"].astype(str),
            "first_name": crm["firstname"],
            "last_name": crm["lastname"],
            "email": crm["email"],
            "phone": crm["phone"],
            "address_line1": crm["address"],
            "city": crm["city"],
            "postcode": crm["zip"],
            "state": crm["state"],
            "country": crm["country"],
            "date_of_birth": _dates(crm["date_of_birth"], "%Y-%m-%d"),
            "link_id": _link(crm["storefront_customer_id"]),
        }
    )


def support_records(users: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": "support_users",
            "record_id": users["id"].astype(str),
            "full_name": users["name"],
            "email": users["email"],
            "phone": users["phone"],
            "link_id": _link(users["external_id"]),
        }
    )


def storefront_records(customers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": "storefront_customers",
            "record_id": customers["id"].astype(str),
            "first_name": customers["first_name"],
            "last_name": customers["last_name"],
            "email": customers["email"],
            "phone": customers["phone"],
            "address_line1": customers["address_line1"],
            "address_line2": customers["address_line2"],
            "city": customers["city"],
            "postcode": customers["postcode"],
            "state": customers["state"],
            "country": customers["country"],
            "date_of_birth": _dates(customers["date_of_birth"]),
            "link_id": _link(customers["id"]),
        }
    )


def file_records(contacts: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "source": "file_contacts",
            "record_id": contacts["contact_ref"].astype(str),
            "first_name": contacts["First Name"],
            "last_name": contacts["Last Name"],
            "email": contacts["E-mail"],
            "phone": contacts["Phone"],
            "address_line1": contacts["Street"],
            "city": contacts["Town"],
            "postcode": contacts["Post Code"],
            "country": contacts["Country"],
            "date_of_birth": _dates(contacts["Birth Date"], "%d/%m/%Y"),
        }
    )


def world_person_records(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every person record of the world's identity tables, canonical columns."""
    parts = [
        crm_records(tables["crm_contacts"]),
        support_records(tables["support_users"]),
        storefront_records(tables["storefront_customers"]),
        file_records(tables["file_contacts"]),
    ]
    return pd.concat(parts, ignore_index=True)


def person_truth(truth_records: pd.DataFrame) -> pd.DataFrame:
    """Truth rows of the identity tables only (source, source_id, person_id)."""
    sources = ["crm_contacts", "support_users", "storefront_customers", "file_contacts"]
    return truth_records[truth_records["source"].isin(sources)][
        ["source", "source_id", "person_id"]
    ]


_FIRST = [
    "John",
    "Mary",
    "James",
    "Anna",
    "Robert",
    "Linda",
    "Michael",
    "Sarah",
    "David",
    "Emma",
    "Peter",
    "Laura",
    "Thomas",
    "Julia",
    "Daniel",
    "Sophie",
    "Paul",
    "Claire",
    "Mark",
    "Eva",
]
_LAST = [
    "Smith",
    "Jones",
    "Brown",
    "Miller",
    "Davis",
    "Wilson",
    "Moore",
    "Taylor",
    "Clark",
    "Walker",
] + [f"Quill{chr(97 + i)}{chr(97 + j)}" for i in range(20) for j in range(20)]


def synthetic_records(n_people: int, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small population independent of the sandbox: 1-3 records per person over two sources,
    with gaps and the odd typo. Returns (records, truth with source/source_id/person_id)."""
    rng = np.random.default_rng(seed)
    n = n_people
    people = pd.DataFrame(
        {
            "person_id": np.arange(n),
            "first_name": rng.choice(_FIRST, n),
            "last_name": rng.choice(_LAST, n),
            "date_of_birth": pd.to_datetime(rng.integers(-12000, 12000, n), unit="D").strftime(
                "%Y-%m-%d"
            ),
            "postcode": [f"{x:05d}" for x in rng.integers(10000, 10000 + max(n // 3, 50), n)],
            "phone": [f"+1415{x:07d}" for x in rng.choice(10**7, n, replace=False)],
        }
    )
    people["email"] = [
        f"{f.lower()}.{s.lower()}{k}@example.com"
        for f, s, k in zip(
            people.first_name, people.last_name, rng.choice(10**6, n, replace=False), strict=True
        )
    ]
    records = people.loc[people.index.repeat(rng.integers(1, 4, n))].reset_index(drop=True)
    m = len(records)
    for column in ["email", "phone", "date_of_birth", "postcode"]:
        records.loc[rng.random(m) < 0.25, column] = None
    typo = rng.random(m) < 0.05
    records.loc[typo, "last_name"] = records.loc[typo, "last_name"].str[:-1] + "x"
    records["source"] = np.where(rng.random(m) < 0.5, "crm", "shop")
    records["record_id"] = [f"r{i:06d}" for i in range(m)]
    truth = records[["source", "record_id", "person_id"]].rename(columns={"record_id": "source_id"})
    return records.drop(columns="person_id"), truth
