"""Zendesk Support, simulated: end users and tickets from `support_users`/`support_tickets`.

Endpoints (shapes follow developer.zendesk.com):
- GET /api/v2/incremental/users/cursor.json and /api/v2/incremental/tickets/cursor.json:
  start_time (epoch seconds, first call) or cursor (later calls), per_page (1..1000, default
  1000), exclude_deleted=true (tickets). Every record changed at or after start_time, ordered by
  (updated_at, id), exactly once; answers {users|tickets, after_cursor, after_url,
  before_cursor, before_url, end_of_stream}. The last page still carries after_cursor: the next
  poll resumes from it and sees only later changes. Deleted tickets come with status "deleted",
  deleted users with active=false. (Unlike Zendesk, changes from the last minute are not held
  back: the world's clock is not the wall clock.)
- GET /api/v2/satisfaction_ratings: rated tickets (score good/bad) with cursor pagination
  (page[size], page[after]; meta.has_more, meta.after_cursor, links.next).
Tickets carry satisfaction_rating {score[, id, comment]}. Auth: HTTP Basic with
"{email}/token" and the API token.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pandas as pd
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Route

from profile_assets.sandbox.apis.auth import AuthError, Principal, basic_credentials
from profile_assets.sandbox.apis.common import (
    ApiRuntime,
    BadRequest,
    VendorApi,
    int_param,
    json_response,
)
from profile_assets.sandbox.apis.render import epoch, iso_utc, plain
from profile_assets.sandbox.apis.store import (
    KEY_MAX,
    KEY_MIN,
    IndexedCollection,
    Rendered,
    SandboxStore,
    TableSpec,
)

PER_PAGE_MAX = 1000
Position = tuple[int, int]  # (updated_at epoch s, id): the first change not yet exported


def _ints(values: pd.Series) -> list[int | None]:
    numbers = pd.to_numeric(values, errors="coerce")
    return [None if pd.isna(v) else int(v) for v in numbers]


def _stamps(frame: pd.DataFrame) -> tuple[list, list, list[int]]:
    return (
        iso_utc(frame["created_at"], millis=False),
        iso_utc(frame["updated_at"], millis=False),
        epoch(frame["updated_at"], millis=False),
    )


def render_users(frame: pd.DataFrame, base_url: str) -> list[Rendered]:
    created, updated, mods = _stamps(frame)
    columns = {c: [plain(v) for v in frame[c]] for c in ("name", "email", "phone", "external_id")}
    roles, active = [plain(v) for v in frame["role"]], [bool(plain(v)) for v in frame["active"]]
    out = []
    for i, user_id in enumerate(_ints(frame["id"])):
        if user_id is None:
            continue
        record = {
            "id": user_id,
            "url": f"{base_url}/api/v2/users/{user_id}.json",
            **{c: values[i] for c, values in columns.items()},
            "role": roles[i] or "end-user",
            "active": active[i],
            "verified": True,
            "suspended": False,
            "time_zone": "UTC",
            "locale": "en-US",
            "created_at": created[i],
            "updated_at": updated[i],
        }
        out.append(Rendered(user_id, record, mods[i]))
    return out


def satisfaction_rating(ticket_id: int, score: Any, comment: Any) -> dict[str, Any]:
    """Zendesk's embedded rating: just the score until the requester rates, then id+comment."""
    score = plain(score) or "unoffered"
    if score in ("good", "bad"):
        return {"id": ticket_id, "score": score, "comment": plain(comment)}
    return {"score": score}


def render_tickets(frame: pd.DataFrame, base_url: str) -> list[Rendered]:
    created, updated, mods = _stamps(frame)
    requesters = _ints(frame["requester_id"])
    columns = {c: [plain(v) for v in frame[c]] for c in ("subject", "status", "priority")}
    scores, comments = list(frame["satisfaction_score"]), list(frame["satisfaction_comment"])
    out = []
    for i, ticket_id in enumerate(_ints(frame["id"])):
        if ticket_id is None:
            continue
        record = {
            "id": ticket_id,
            "url": f"{base_url}/api/v2/tickets/{ticket_id}.json",
            "external_id": None,
            "type": "question",
            "subject": columns["subject"][i],
            "raw_subject": columns["subject"][i],
            "status": columns["status"][i],
            "priority": columns["priority"][i],
            "requester_id": requesters[i],
            "submitter_id": requesters[i],
            "assignee_id": None,
            "organization_id": None,
            "group_id": None,
            "tags": [],
            "via": {"channel": "web"},
            "satisfaction_rating": satisfaction_rating(ticket_id, scores[i], comments[i]),
            "created_at": created[i],
            "updated_at": updated[i],
        }
        out.append(Rendered(ticket_id, record, mods[i]))
    return out


def _tombstone(changes: dict[str, Any]) -> Callable[[Rendered, pd.Timestamp], Rendered]:
    """Zendesk keeps deleted records in the export: a deleted user turns inactive, a deleted
    ticket gets status "deleted"; either way updated_at moves to the deletion time."""

    def tombstone(item: Rendered, when: pd.Timestamp) -> Rendered:
        stamp = pd.Series([when])
        record = {**item.record, **changes, "updated_at": iso_utc(stamp, millis=False)[0]}
        return Rendered(item.id, record, epoch(stamp, millis=False)[0])

    return tombstone


def table_specs(base_url: str) -> tuple[TableSpec, ...]:
    return (
        TableSpec(
            "support_users", lambda f: render_users(f, base_url), _tombstone({"active": False})
        ),
        TableSpec(
            "support_tickets",
            lambda f: render_tickets(f, base_url),
            _tombstone({"status": "deleted"}),
        ),
    )


# ---------------------------------------------------------------------------------------------
# Cursor exports


def encode_cursor(position: Position) -> str:
    return base64.urlsafe_b64encode(f"{position[0]}:{position[1]}".encode()).decode()


def decode_cursor(cursor: str) -> Position:
    try:
        mod, _, record_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        return int(mod), int(record_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("invalid cursor") from exc


def export_page(
    collection: IndexedCollection,
    position: Position,
    size: int,
    keep: Callable[[Rendered], bool] = lambda item: True,
) -> tuple[list[Rendered], Position, bool]:
    """Up to `size` kept records from `position` on, in change order; returns them, the position
    after the last record looked at, and whether the stream is exhausted."""
    start, stop = collection.change_window(None, position, (KEY_MAX, KEY_MAX))
    kept: list[Rendered] = []
    cursor = start
    while cursor < stop and len(kept) < size:
        for item in collection.changes_at(None, cursor, min(cursor + size, stop)):
            cursor += 1
            position = (item.mod, item.id + 1)
            if keep(item):
                kept.append(item)
                if len(kept) == size:
                    break
    return kept, position, cursor >= stop


def _start_position(request: Request) -> Position:
    params = request.query_params
    if "cursor" in params:
        return decode_cursor(params["cursor"])
    if "start_time" not in params:
        raise BadRequest("start_time or cursor is required")
    return int_param(params["start_time"], "start_time", 0, 0, KEY_MAX), KEY_MIN


def error_body(status: int, message: str) -> dict[str, Any]:
    if status == 401:
        return {"error": "Couldn't authenticate you"}
    error = {400: "InvalidValue", 404: "RecordNotFound", 429: "APIRateLimitExceeded"}
    return {"error": error.get(status, "ServerError"), "description": message}


def api(store: SandboxStore, runtime: ApiRuntime, email: str, api_token: str) -> VendorApi:
    """Zendesk's routes over `store`, answering the Basic "{email}/token:{api_token}" login."""

    def incremental(table: str, key: str) -> Callable:
        async def endpoint(request: Request):
            params = request.query_params
            size = int_param(params.get("per_page"), "per_page", PER_PAGE_MAX, 1, PER_PAGE_MAX)
            exclude_deleted = params.get("exclude_deleted", "false").lower() == "true"
            with store.lock:
                items, position, end = export_page(
                    store.collections[table],
                    _start_position(request),
                    size,
                    lambda item: not (exclude_deleted and item.record.get("status") == "deleted"),
                )
            cursor = encode_cursor(position)
            after_url = request.url.remove_query_params("start_time").include_query_params(
                cursor=cursor
            )
            return json_response(
                {
                    key: [item.record for item in items],
                    "after_url": str(after_url),
                    "after_cursor": cursor,
                    "before_url": None,
                    "before_cursor": None,
                    "end_of_stream": end,
                }
            )

        return endpoint

    async def satisfaction_ratings(request: Request):
        params = request.query_params
        size = int_param(params.get("page[size]"), "page[size]", 100, 1, 100)
        after = params.get("page[after]")
        position = decode_cursor(after) if after else (KEY_MIN, KEY_MIN)
        rated = ("good", "bad")
        with store.lock:
            items, position, end = export_page(
                store.collections["support_tickets"],
                position,
                size,
                lambda item: item.record["satisfaction_rating"]["score"] in rated,
            )
        cursor = encode_cursor(position)
        next_url = None if end else str(request.url.include_query_params(**{"page[after]": cursor}))
        return json_response(
            {
                "satisfaction_ratings": [_rating(item.record) for item in items],
                "meta": {"has_more": not end, "after_cursor": cursor, "before_cursor": None},
                "links": {"next": next_url, "prev": None},
            }
        )

    def authenticate(headers: Headers) -> Principal | AuthError:
        login = basic_credentials(headers)
        if login is None:
            return AuthError.MISSING
        if login != (f"{email}/token", api_token):
            return AuthError.INVALID
        return Principal(login[0])

    routes = [
        Route(
            "/api/v2/incremental/users/cursor.json",
            incremental("support_users", "users"),
            methods=["GET"],
        ),
        Route(
            "/api/v2/incremental/tickets/cursor.json",
            incremental("support_tickets", "tickets"),
            methods=["GET"],
        ),
        Route("/api/v2/satisfaction_ratings", satisfaction_ratings, methods=["GET"]),
    ]
    return VendorApi(routes, authenticate, error_body)


def _rating(ticket: dict[str, Any]) -> dict[str, Any]:
    rating = ticket["satisfaction_rating"]
    return {
        "id": rating["id"],
        "url": ticket["url"].replace(
            f"tickets/{ticket['id']}", f"satisfaction_ratings/{rating['id']}"
        ),
        "assignee_id": None,
        "group_id": None,
        "requester_id": ticket["requester_id"],
        "ticket_id": ticket["id"],
        "score": rating["score"],
        "comment": rating["comment"],
        "created_at": ticket["updated_at"],
        "updated_at": ticket["updated_at"],
    }
