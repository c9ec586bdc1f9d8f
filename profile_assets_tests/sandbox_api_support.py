"""A tiny hand-built world for the sandbox API tests, until world.py's generate_world lands."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

AS_OF = pd.Timestamp("2026-10-01T00:00:00Z")


@dataclass
class HandWorld:
    seed: int
    as_of: pd.Timestamp
    cutoff: pd.Timestamp
    people: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    truth_records: pd.DataFrame
    truth_labels: pd.DataFrame


@dataclass
class HandChangeSet:
    upserts: dict[str, pd.DataFrame]
    deletes: dict[str, list[str]]


def _ts(seconds) -> pd.Series:
    return pd.Series(pd.to_datetime(AS_OF.value + np.asarray(seconds, np.int64) * 10**9, utc=True))


def hand_world(n_people: int = 300, n_contacts: int = 600) -> HandWorld:
    rng = np.random.default_rng(1)
    pid = np.arange(n_people)
    people = pd.DataFrame(
        {
            "person_id": pid,
            "first_name": [f"F{i}" for i in pid],
            "last_name": [f"L{i}" for i in pid],
            "email": [f"p{i}@example.com" for i in pid],
            "date_of_birth": pd.to_datetime("1950-01-01") + pd.to_timedelta(pid * 60, "D"),
            "city": "Springfield",
            "state": "IL",
            "country": "US",
        }
    )
    owner = rng.integers(0, n_people, n_contacts)
    mod = -rng.integers(1, 10**7, n_contacts)
    contacts = pd.DataFrame(
        {
            "id": pd.Series([str(100 + i) for i in range(n_contacts)], dtype=object),
            "email": [f"p{p}@example.com" for p in owner],
            "firstname": [f"F{p}" for p in owner],
            "lastname": [f"L{p}" for p in owner],
            "phone": None, "address": None, "city": "X", "zip": "1", "state": "IL",
            "country": "US", "date_of_birth": None, "storefront_customer_id": None,
            "createdate": _ts(mod - 1000),
            "lastmodifieddate": _ts(mod),
            "archived": np.zeros(n_contacts, bool),
            "archived_at": _ts(mod).where(np.zeros(n_contacts, bool), pd.NaT),
        }
    )  # fmt: skip
    contacts.loc[3, "id"] = None
    n_deals = 150
    deals = pd.DataFrame(
        {
            "id": [str(5000 + i) for i in range(n_deals)],
            "dealname": "deal", "deal_currency_code": "USD", "dealstage": "closedwon",
            "pipeline": "default",
            "amount": pd.Series([12.5 if i % 7 else "12,50" for i in range(n_deals)], dtype=object),
            "closedate": _ts(-np.arange(n_deals) * 100),
            "createdate": _ts(-np.arange(n_deals) * 100 - 50),
            "hs_lastmodifieddate": _ts(-np.arange(n_deals) * 100),
            "contact_ids": [[str(100 + i), str(101 + i)] for i in range(n_deals)],
            "archived": False, "archived_at": pd.Series(pd.NaT, index=range(n_deals), dtype="datetime64[ns, UTC]"),
        }
    )  # fmt: skip
    users = pd.DataFrame(
        {
            "id": np.arange(1, 201, dtype=np.int64),
            "name": "A B", "email": [f"p{i}@example.com" for i in range(200)], "phone": None,
            "external_id": None, "role": "end-user", "active": np.arange(200) % 30 != 0,
            "created_at": _ts(-np.arange(200) * 500 - 10),
            "updated_at": _ts(-np.arange(200) * 500),
        }
    )  # fmt: skip
    tmod = -rng.integers(1, 10**6, 500)
    tickets = pd.DataFrame(
        {
            "id": np.arange(1, 501, dtype=np.int64),
            "requester_id": rng.integers(1, 201, 500), "subject": "help",
            "status": np.where(np.arange(500) % 25 == 0, "deleted", "solved"),
            "priority": "normal", "created_at": _ts(tmod - 5), "updated_at": _ts(tmod),
            "satisfaction_score": np.array(["unoffered", "offered", "good", "bad"])[
                np.arange(500) % 4
            ],
            "satisfaction_comment": [("great" if i % 4 == 2 else None) for i in range(500)],
        }
    )  # fmt: skip
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 30, 800)]
    web = pd.DataFrame(
        {
            "date": days,
            "user_id": [None if i % 3 == 0 else str(i % 50) for i in range(800)],
            "client_id": [f"c{i % 70}" for i in range(800)],
            "sessions": 1, "page_views": 3,
            "add_to_carts": rng.integers(0, 2, 800), "purchases": rng.integers(0, 2, 800),
            "revenue": rng.random(800) * 50,
        }
    )  # fmt: skip
    truth = pd.DataFrame(
        {
            "source": "crm_contacts",
            "source_id": contacts["id"].astype(str),
            "person_id": pd.array(owner, dtype="Int64"),
            "broken_reason": None,
        }
    )
    tables = {
        "crm_contacts": contacts,
        "crm_deals": deals,
        "support_users": users,
        "support_tickets": tickets,
        "web_user_days": web,
    }
    return HandWorld(7, AS_OF, AS_OF - pd.Timedelta(days=90), people, tables, truth, None)


def hand_changes(world: HandWorld, n_people: int, seed: int) -> HandChangeSet:
    """Update n contacts and tickets, archive one contact, hard-delete tickets and a user."""
    rng = np.random.default_rng(seed)
    t = world.tables
    newest = max(
        t["crm_contacts"]["lastmodifieddate"].max(),
        t["support_tickets"]["updated_at"].max(),
        t["support_users"]["updated_at"].max(),
    )
    now = newest + pd.Timedelta(seconds=10)
    contacts = t["crm_contacts"]
    picked = contacts.index[rng.choice(len(contacts), n_people + 1, replace=False)]
    changed, archived = picked[:-1], picked[-1:]
    contacts.loc[picked, "lastmodifieddate"] = now
    contacts.loc[changed, "email"] = "changed@example.com"
    contacts.loc[archived, ["archived", "archived_at"]] = [True, now]
    tickets = t["support_tickets"]
    rows = rng.choice(len(tickets), n_people + 2, replace=False)
    changed_t, deleted_t = tickets.index[rows[:-2]], tickets["id"].iloc[rows[-2:]]
    tickets.loc[changed_t, "updated_at"] = now
    t["support_tickets"] = tickets[~tickets["id"].isin(deleted_t)]
    users = t["support_users"]
    deleted_u = users["id"].iloc[rng.integers(len(users))]
    t["support_users"] = users[users["id"] != deleted_u]
    return HandChangeSet(
        upserts={"crm_contacts": contacts.loc[changed], "support_tickets": tickets.loc[changed_t]},
        deletes={
            "crm_contacts": [str(i) for i in contacts.loc[archived, "id"]],
            "support_tickets": [str(i) for i in deleted_t],
            "support_users": [str(deleted_u)],
        },
    )
