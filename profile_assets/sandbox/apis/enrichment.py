"""A Clearbit-like person enrichment API, simulated.

GET /v2/people/find?email=... with `Authorization: Bearer <api key>`:
- 200 with a person: name, location/geo, employment (title, role, seniority) and demographics
  (ageRange, incomeBand, householdSize). Values are deterministic per true person: the same
  person found by any of their emails gets the same answer, run after run.
- 202 {"status": "queued"} the first time a share of people is asked for (the vendor "looks
  them up"); asking again returns 200.
- 404 for emails no world person uses; 422 for malformed emails.
- The per-minute quota is the API's rate limit (429 with Retry-After).
The email -> person lookup stands in for the vendor's own database; it is built from the world
(people and the emails their source records carry) and never exposed by the response.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
from collections.abc import Mapping
from typing import Any

import pandas as pd
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Route

from profile_assets.sandbox.apis.auth import AuthError, Principal, bearer_token
from profile_assets.sandbox.apis.common import ApiRuntime, VendorApi, json_response
from profile_assets.sandbox.apis.render import plain
from profile_assets.sandbox.apis.store import SandboxStore

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AGE_BANDS = ((18, "18-24"), (25, "25-34"), (35, "35-44"), (45, "45-54"), (55, "55-64"), (65, "65+"))
INCOME_BANDS = ("<$25k", "$25k-$50k", "$50k-$75k", "$75k-$100k", "$100k-$150k", "$150k+")
JOBS = (
    ("Software Engineer", "engineering", "employee"),
    ("Nurse", "healthcare", "employee"),
    ("Teacher", "education", "employee"),
    ("Sales Manager", "sales", "manager"),
    ("Accountant", "finance", "employee"),
    ("Marketing Director", "marketing", "director"),
    ("Store Associate", "retail", "employee"),
    ("Operations Lead", "operations", "manager"),
    ("Founder", "leadership", "executive"),
    ("Student", None, None),
    ("Retired", None, None),
)
_NAMESPACE = uuid.UUID("4d7a0c4e-6a0b-4f5e-9a53-2b1f6d0e9c11")


def _draw(person_id: int, purpose: str, modulo: int) -> int:
    """A stable pseudo-random integer per person and purpose (same world -> same answer)."""
    digest = hashlib.blake2b(f"{person_id}:{purpose}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % modulo


def is_queued(person_id: int, queued_share: float) -> bool:
    """Whether the vendor "looks this person up" (202) on the first request."""
    return _draw(person_id, "queued", 10_000) < queued_share * 10_000


def email_index(world: Any) -> dict[str, int]:
    """Lower-cased valid email -> person id, from people's own addresses and every source table
    with `id` and `email` columns (joined to the ground truth). A shared mailbox resolves to its
    lowest person id, as a vendor's database would hold one person per address."""
    frames = []
    truth = world.truth_records.dropna(subset=["person_id"])
    for table, frame in world.tables.items():
        if {"id", "email"} <= set(frame.columns):
            emails = frame[["id", "email"]].assign(source=table, source_id=frame["id"].astype(str))
            frames.append(emails.merge(truth, on=["source", "source_id"])[["email", "person_id"]])
    for column in ("email", "secondary_email"):
        if column in world.people.columns:
            frames.append(world.people[[column, "person_id"]].rename(columns={column: "email"}))
    pairs = pd.concat(frames, ignore_index=True).dropna()
    pairs["email"] = pairs["email"].astype(str).str.strip().str.lower()
    pairs = pairs[pairs["email"].str.match(EMAIL.pattern)]
    lowest = pairs.groupby("email")["person_id"].min()
    return {email: int(pid) for email, pid in lowest.items()}


def _first(row: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = plain(row.get(name))
        if value is not None:
            return value
    return None


def _age_band(birth: Any, as_of: pd.Timestamp, person_id: int) -> str:
    try:
        born = pd.Timestamp(birth)
        age = int((as_of.tz_localize(None) - born.tz_localize(None)).days // 365.25)
    except (TypeError, ValueError):
        age = 18 + _draw(person_id, "age", 60)
    label = AGE_BANDS[0][1]
    for low, band in AGE_BANDS:
        if age >= low:
            label = band
    return label


def person_profile(
    person_id: int, person: Mapping[str, Any], email: str, as_of: pd.Timestamp
) -> dict[str, Any]:
    """The enrichment answer for one true person (pure and deterministic)."""
    given = _first(person, "first_name", "firstname", "given_name")
    family = _first(person, "last_name", "lastname", "family_name")
    city, state = _first(person, "city", "town"), _first(person, "state", "region")
    country = _first(person, "country")
    age_band = _age_band(_first(person, "date_of_birth", "birth_date", "dob"), as_of, person_id)
    title, role, seniority = JOBS[_draw(person_id, "job", len(JOBS))]
    if age_band == "65+" and _draw(person_id, "retired", 3):
        title, role, seniority = JOBS[-1]
    income = INCOME_BANDS[_draw(person_id, "income", len(INCOME_BANDS))]
    return {
        "id": str(uuid.uuid5(_NAMESPACE, str(person_id))),
        "name": {
            "fullName": " ".join(p for p in (given, family) if p) or None,
            "givenName": given,
            "familyName": family,
        },
        "email": email,
        "location": ", ".join(p for p in (city, state, country) if p) or None,
        "geo": {"city": city, "state": state, "country": country},
        "employment": {"title": title, "role": role, "seniority": seniority},
        "demographics": {
            "ageRange": age_band,
            "incomeBand": income,
            "householdSize": 1 + _draw(person_id, "household", 5),
        },
        "indexedAt": pd.Timestamp(as_of).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = {
        400: "invalid_request",
        401: "auth_error",
        404: "unknown_record",
        422: "email_invalid",
        429: "rate_limit",
    }.get(status, "server_error")
    return {"error": {"type": kind, "message": message}}


def api(
    store: SandboxStore, runtime: ApiRuntime, api_key: str, *, queued_share: float = 0.1
) -> VendorApi:
    """The enrichment routes; a `queued_share` of people answer 202 on their first lookup."""
    cache: dict[int, tuple[dict[str, int], pd.DataFrame]] = {}
    asked: set[int] = set()
    asked_lock = threading.Lock()

    def lookup() -> tuple[dict[str, int], pd.DataFrame]:
        with store.lock:
            if store.version not in cache:
                cache.clear()
                people = store.world.people.set_index("person_id", drop=False)
                cache[store.version] = (email_index(store.world), people)
            return cache[store.version]

    def first_time_queued(person_id: int) -> bool:
        if not is_queued(person_id, queued_share):
            return False
        with asked_lock:
            new = person_id not in asked
            asked.add(person_id)
        return new

    async def find(request: Request):
        email = request.query_params.get("email", "").strip()
        if not EMAIL.match(email):
            return json_response(error_body(422, "Invalid email address"), 422)
        index, people = lookup()
        person_id = index.get(email.lower())
        if person_id is None or person_id not in people.index:
            return json_response(error_body(404, "Unknown email address"), 404)
        if first_time_queued(person_id):
            return json_response({"status": "queued"}, 202)
        row = people.loc[person_id].to_dict()
        return json_response(person_profile(person_id, row, email, store.world.as_of))

    def authenticate(headers: Headers) -> Principal | AuthError:
        key = bearer_token(headers)
        if key is None:
            return AuthError.MISSING
        return Principal(key) if key == api_key else AuthError.INVALID

    routes = [Route("/v2/people/find", find, methods=["GET"])]
    return VendorApi(routes, authenticate, error_body)
