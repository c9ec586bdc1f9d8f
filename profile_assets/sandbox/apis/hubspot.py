"""HubSpot CRM v3, simulated: contacts and deals from the world's `crm_contacts`/`crm_deals`.

Endpoints (shapes follow developers.hubspot.com):
- POST /oauth/v1/token: grant_type=client_credentials or refresh_token (form or JSON body),
  answers {access_token, refresh_token, expires_in, token_type}.
- GET  /crm/v3/objects/{contacts|deals}: limit (1..100, default 10), after (cursor = the next
  record id), properties (comma list or repeated), archived=true|false, associations=contacts.
  Ordered by id; paging.next = {after, link}.
- GET  /crm/v3/objects/{type}/{id}: one record (archived=true to read an archived one).
- GET  /crm/v3/objects/deals/{id}/associations/contacts: v3 shape
  {"results": [{"id": "51", "type": "deal_to_contact"}]}.
- POST /crm/v3/objects/{type}/search: filterGroups (OR of ANDed filters), sorts, properties,
  limit (1..200, default 10), after (an offset). Only unarchived records, as in HubSpot; results
  beyond position 10,000 of one query are unreachable: after >= 10000 answers 400. Without sorts
  results come in hs_object_id order.
Records: {id, properties: {name: string|null}, createdAt, updatedAt, archived[, archivedAt]}.
Auth: the private-app token or an OAuth access token, as a Bearer header.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Route

from profile_assets.sandbox.apis.auth import AuthError, Principal, bearer_token
from profile_assets.sandbox.apis.common import (
    ApiRuntime,
    BadRequest,
    NotFound,
    VendorApi,
    int_param,
    json_response,
    token_route,
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

TOKEN_PATH = "/oauth/v1/token"
LIST_LIMIT_MAX = 100
SEARCH_LIMIT_MAX = 200
SEARCH_RESULT_CAP = 10_000
MOD_PROPERTIES = frozenset({"lastmodifieddate", "hs_lastmodifieddate"})
DATETIME_PROPERTIES = frozenset({"createdate", "closedate"}) | MOD_PROPERTIES

CONTACT_TEXT = (
    "email", "firstname", "lastname", "phone", "address", "city", "zip", "state", "country",
    "date_of_birth", "storefront_customer_id",
)  # fmt: skip
DEAL_TEXT = ("dealname", "amount", "deal_currency_code", "dealstage", "pipeline")

OBJECT_TABLES = {"contacts": "crm_contacts", "deals": "crm_deals"}
DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname",
    ),
    "deals": (
        "amount", "closedate", "createdate", "dealname", "dealstage", "hs_lastmodifieddate",
        "hs_object_id", "pipeline",
    ),
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Rendering


def _text(value: Any) -> str | None:
    """HubSpot serves every property as a string (or null), broken values included."""
    value = plain(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _render_crm(
    frame: pd.DataFrame,
    *,
    text_columns: Iterable[str],
    datetime_columns: Iterable[str],
    modified_column: str,
    links_column: str | None = None,
) -> list[Rendered]:
    """Rows -> HubSpot records; rows without a numeric id cannot exist in HubSpot and are left
    out. Columns are formatted vectorised, then assembled per row."""
    ids = pd.to_numeric(frame["id"], errors="coerce")
    columns: dict[str, list] = {c: [_text(v) for v in frame[c]] for c in text_columns}
    columns |= {c: iso_utc(frame[c], millis=True) for c in datetime_columns}
    created, updated = columns["createdate"], columns[modified_column]
    mods = epoch(frame[modified_column], millis=True)
    archived = [bool(plain(v)) for v in frame["archived"]]
    archived_at = iso_utc(frame["archived_at"], millis=True)
    links = list(frame[links_column]) if links_column else None
    names = list(columns)
    out = []
    for i, raw_id in enumerate(ids):
        if pd.isna(raw_id):
            continue
        record_id = int(raw_id)
        properties = {name: columns[name][i] for name in names}
        properties["hs_object_id"] = str(record_id)
        record = {
            "id": str(record_id),
            "properties": properties,
            "createdAt": created[i],
            "updatedAt": updated[i],
            "archived": archived[i],
        }
        if archived[i]:
            record["archivedAt"] = archived_at[i] or updated[i]
        linked = () if links is None else _id_strings(links[i])
        out.append(Rendered(record_id, record, mods[i], archived[i], linked))
    return out


def _id_strings(value: Any) -> tuple[str, ...]:
    """An association cell (list, tuple or array, as parquet round trips give back) as ids."""
    if isinstance(value, (list, tuple, np.ndarray, pd.Series)):
        return tuple(str(plain(v)) for v in value if plain(v) is not None)
    return ()


def render_contacts(frame: pd.DataFrame) -> list[Rendered]:
    return _render_crm(
        frame,
        text_columns=CONTACT_TEXT,
        datetime_columns=("createdate", "lastmodifieddate"),
        modified_column="lastmodifieddate",
    )


def render_deals(frame: pd.DataFrame) -> list[Rendered]:
    return _render_crm(
        frame,
        text_columns=DEAL_TEXT,
        datetime_columns=("closedate", "createdate", "hs_lastmodifieddate"),
        modified_column="hs_lastmodifieddate",
        links_column="contact_ids",
    )


def archive(item: Rendered, when: pd.Timestamp) -> Rendered:
    """A hard delete in HubSpot is an archive: the record moves to the archived listing."""
    stamp = iso_utc(pd.Series([when]), millis=True)[0]
    record = {**item.record, "archived": True, "archivedAt": stamp, "updatedAt": stamp}
    mod = epoch(pd.Series([when]), millis=True)[0]
    return Rendered(item.id, record, mod, True, item.links)


TABLE_SPECS = (
    TableSpec("crm_contacts", render_contacts, archive),
    TableSpec("crm_deals", render_deals, archive),
)


def _contact_links(item: Rendered) -> list[dict[str, str]]:
    return [{"id": c, "type": "deal_to_contact"} for c in item.links]


def present(item: Rendered, properties: Iterable[str], with_contacts: bool) -> dict[str, Any]:
    """The response form of a record: only the requested properties (unknown names dropped, as
    HubSpot does), plus deal->contact associations when asked for."""
    record = item.record
    stored = record["properties"]
    out = dict(record)
    out["properties"] = {name: stored[name] for name in properties if name in stored}
    if with_contacts and item.links:
        out["associations"] = {"contacts": {"results": _contact_links(item)}}
    return out


# ---------------------------------------------------------------------------------------------
# Search


def _to_millis(value: Any) -> int:
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        stamp = pd.Timestamp(text)
    except ValueError as exc:
        raise BadRequest(f"not a datetime: {text!r}") from exc
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.value // 1_000_000


def _window(filters: list[Mapping[str, Any]]) -> tuple[int, int, list[Mapping[str, Any]]]:
    """Split a filter group into a [low, high) window on the modification time (served by the
    change index) and the remaining filters (checked record by record)."""
    low, high, rest = KEY_MIN, KEY_MAX, []
    for f in filters:
        op = f.get("operator")
        if f.get("propertyName") not in MOD_PROPERTIES or op not in (
            "GT", "GTE", "LT", "LTE", "EQ", "BETWEEN",
        ):  # fmt: skip
            rest.append(f)
            continue
        value = _to_millis(f.get("value"))
        if op in ("GTE", "EQ", "BETWEEN"):
            low = max(low, value)
        if op == "GT":
            low = max(low, value + 1)
        if op == "LT":
            high = min(high, value)
        if op in ("LTE", "EQ"):
            high = min(high, value + 1)
        if op == "BETWEEN":
            high = min(high, _to_millis(f.get("highValue")) + 1)
    return low, high, rest


def _comparable(name: str, value: Any) -> Any:
    """Datetime properties compare as epoch ms, others as numbers when both sides are numeric,
    else as case-insensitive text."""
    if value is None:
        return None
    if name in DATETIME_PROPERTIES:
        return _to_millis(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value).lower()


def _matches(item: Rendered, f: Mapping[str, Any]) -> bool:
    name, op = f.get("propertyName", ""), f.get("operator")
    if name in MOD_PROPERTIES:
        have = item.mod
    else:
        have = _comparable(name, item.record["properties"].get(name))
    if op == "HAS_PROPERTY":
        return have is not None
    if op == "NOT_HAS_PROPERTY":
        return have is None
    if op in ("IN", "NOT_IN"):
        found = have in {_comparable(name, v) for v in f.get("values", [])}
        return found if op == "IN" else not found
    if op == "CONTAINS_TOKEN":
        token = str(f.get("value", "")).strip("*").lower()
        return have is not None and token in str(have)
    if op not in _COMPARISONS:
        raise BadRequest(f"unsupported operator {op!r}")
    want = _comparable(name, f.get("value"))
    if have is None or want is None or type(have) is not type(want):
        return op == "NEQ"
    if op == "BETWEEN":
        return want <= have <= _comparable(name, f.get("highValue"))
    return _COMPARISONS[op](have, want)


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": lambda a, b: a == b,
    "NEQ": lambda a, b: a != b,
    "LT": lambda a, b: a < b,
    "LTE": lambda a, b: a <= b,
    "GT": lambda a, b: a > b,
    "GTE": lambda a, b: a >= b,
    "BETWEEN": lambda a, b: True,
}


def _sort_key(sorts: list[Mapping[str, Any]]) -> tuple[Callable[[Rendered], Any], bool]:
    if not sorts:
        return (lambda r: r.id), False
    if len(sorts) > 1:
        raise BadRequest("only one sort is supported")
    name = sorts[0].get("propertyName", "")
    descending = sorts[0].get("direction", "ASCENDING") == "DESCENDING"
    if name in MOD_PROPERTIES:
        return (lambda r: (r.mod, r.id)), descending
    if name == "hs_object_id":
        return (lambda r: r.id), descending

    def key(r: Rendered) -> tuple:
        value = _comparable(name, r.record["properties"].get(name))
        return (value is None, str(type(value)), value if value is not None else 0, r.id)

    return key, descending


def search(
    collection: IndexedCollection, body: Mapping[str, Any], after: int, limit: int
) -> tuple[int, list[Rendered]]:
    """Evaluate a search body over unarchived records: (total matches, the requested page).

    The incremental-sync query (one group of time filters, sorted by modification time
    ascending) is answered straight from the change index; anything else is filtered and
    sorted in full.
    """
    groups = [g.get("filters", []) for g in body.get("filterGroups") or []] or [[]]
    sorts = list(body.get("sorts") or [])
    windows = [_window(filters) for filters in groups]
    by_mod_ascending = (
        len(sorts) == 1
        and sorts[0].get("propertyName") in MOD_PROPERTIES
        and sorts[0].get("direction", "ASCENDING") == "ASCENDING"
    )
    stop_at = min(after + limit, SEARCH_RESULT_CAP)
    if len(windows) == 1 and not windows[0][2] and by_mod_ascending:
        low, high, _ = windows[0]
        start, stop = collection.change_window(False, (low, KEY_MIN), (high, KEY_MIN))
        page = collection.changes_at(False, start + after, min(start + stop_at, stop))
        return stop - start, page
    matched: dict[int, Rendered] = {}
    for low, high, rest in windows:
        start, stop = collection.change_window(False, (low, KEY_MIN), (high, KEY_MIN))
        for item in collection.changes_at(False, start, stop):
            if all(_matches(item, f) for f in rest):
                matched[item.id] = item
    key, descending = _sort_key(sorts)
    ordered = sorted(matched.values(), key=key, reverse=descending)
    return len(ordered), ordered[after:stop_at]


# ---------------------------------------------------------------------------------------------
# HTTP


def error_body(status: int, message: str) -> dict[str, Any]:
    category = {
        400: "VALIDATION_ERROR",
        401: "EXPIRED_AUTHENTICATION" if "expired" in message else "INVALID_AUTHENTICATION",
        404: "OBJECT_NOT_FOUND",
        429: "RATE_LIMITS",
    }.get(status, "INTERNAL_ERROR")
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if status == 429:
        body["errorType"] = "RATE_LIMIT"
    return body


def _query_list(request: Request, name: str) -> list[str]:
    return [p for raw in request.query_params.getlist(name) for p in raw.split(",") if p]


def _record_id(request: Request) -> int:
    return int_param(request.path_params["record_id"], "id", 0, 0, KEY_MAX)


def api(store: SandboxStore, runtime: ApiRuntime, private_app_token: str) -> VendorApi:
    """HubSpot's routes over `store`; `runtime.issuer` backs the OAuth token endpoint."""
    assert runtime.issuer is not None

    def collection_for(object_type: str) -> IndexedCollection:
        if object_type not in OBJECT_TABLES:
            raise NotFound(f"Unknown object type {object_type!r}")
        return store.collections[OBJECT_TABLES[object_type]]

    def shape(request: Request, object_type: str) -> tuple[Iterable[str], bool]:
        requested = _query_list(request, "properties")
        with_contacts = "contacts" in _query_list(request, "associations")
        return requested or DEFAULT_PROPERTIES[object_type], with_contacts

    async def list_objects(request: Request):
        object_type = request.path_params["object_type"]
        params = request.query_params
        limit = int_param(params.get("limit"), "limit", 10, 1, LIST_LIMIT_MAX)
        first = int_param(params.get("after"), "after", 0, 0, KEY_MAX)
        archived = params.get("archived", "false").lower() == "true"
        properties, with_contacts = shape(request, object_type)
        collection = collection_for(object_type)
        with store.lock:
            page, next_id = collection.page_by_id(archived, first, limit)
        body: dict[str, Any] = {"results": [present(r, properties, with_contacts) for r in page]}
        if next_id is not None:
            link = request.url.include_query_params(after=str(next_id))
            body["paging"] = {"next": {"after": str(next_id), "link": str(link)}}
        return json_response(body)

    async def get_object(request: Request):
        object_type = request.path_params["object_type"]
        archived = request.query_params.get("archived", "false").lower() == "true"
        with store.lock:
            item = collection_for(object_type).get(_record_id(request))
        if item is None or item.partition != archived:
            raise NotFound("Object not found")
        return json_response(present(item, *shape(request, object_type)))

    async def deal_contacts(request: Request):
        with store.lock:
            item = store.collections["crm_deals"].get(_record_id(request))
        if item is None:
            raise NotFound("Object not found")
        return json_response({"results": _contact_links(item)})

    async def search_objects(request: Request):
        object_type = request.path_params["object_type"]
        body = await request.json()
        limit = int_param(body.get("limit"), "limit", 10, 1, SEARCH_LIMIT_MAX)
        after = int_param(body.get("after"), "after", 0, 0, KEY_MAX)
        if after >= SEARCH_RESULT_CAP:
            raise BadRequest(
                f"Cannot page beyond {SEARCH_RESULT_CAP} results; narrow the filters instead."
            )
        collection = collection_for(object_type)
        with store.lock:
            total, page = search(collection, body, after, limit)
        properties = list(body.get("properties") or []) or DEFAULT_PROPERTIES[object_type]
        results = [present(r, properties, False) for r in page]
        out: dict[str, Any] = {"total": total, "results": results}
        if after + len(page) < total:
            out["paging"] = {"next": {"after": str(after + len(page))}}
        return json_response(out)

    def authenticate(headers: Headers) -> Principal | AuthError:
        token = bearer_token(headers)
        if token is None:
            return AuthError.MISSING
        if token == private_app_token:
            return Principal(token)
        return runtime.issuer.check(token) or Principal(token, oauth_token=token)

    routes = [
        token_route(TOKEN_PATH, runtime.issuer),
        Route("/crm/v3/objects/{object_type}", list_objects, methods=["GET"]),
        Route("/crm/v3/objects/{object_type}/search", search_objects, methods=["POST"]),
        Route("/crm/v3/objects/{object_type}/{record_id}", get_object, methods=["GET"]),
        Route(
            "/crm/v3/objects/deals/{record_id}/associations/contacts",
            deal_contacts,
            methods=["GET"],
        ),
    ]
    return VendorApi(routes, authenticate, error_body, open_paths=(TOKEN_PATH,))
