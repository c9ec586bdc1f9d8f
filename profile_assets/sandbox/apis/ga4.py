"""GA4 Data API, simulated: per-user-per-day web activity from the world's `web_user_days`.

Endpoints (shapes follow developers.google.com/analytics/devguides/reporting/data/v1):
- POST /token: OAuth2 client_credentials (form or JSON) -> {access_token, expires_in,
  token_type: "Bearer"}; no refresh token, a client asks again when the token expires.
- POST /v1beta/properties/{id}:runReport with one dateRange (YYYY-MM-DD, today, yesterday,
  NdaysAgo, in the property's zone America/Los_Angeles), dimensions from DIMENSIONS, metrics from
  METRICS, limit (default 10,000, max 250,000) and offset. Answers dimensionHeaders,
  metricHeaders, rows [{dimensionValues, metricValues}] (values are strings), rowCount,
  metadata, kind. As in the real API's proto3 JSON, `rows` and `rowCount` are absent when there
  are no rows. Rows come sorted by dimension values (the real API's order is unspecified
  without orderBys).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.routing import Route

from profile_assets.sandbox.apis.auth import AuthError, Principal, bearer_token
from profile_assets.sandbox.apis.common import (
    ApiRuntime,
    BadRequest,
    VendorApi,
    int_param,
    json_response,
    token_route,
)
from profile_assets.sandbox.apis.store import SandboxStore

TOKEN_PATH = "/token"
PROPERTY_TIMEZONE = "America/Los_Angeles"
LIMIT_DEFAULT, LIMIT_MAX = 10_000, 250_000
NOT_SET = "(not set)"

DIMENSIONS = {  # GA4 name -> column of the prepared frame
    "date": "date_key",
    "customUser:user_id": "user_id",  # the storefront customer id, set after login
    "customUser:client_id": "client_id",  # the GA pseudo id, a user-scoped custom dimension
}
METRICS = {  # GA4 name -> (world column, metric type)
    "sessions": ("sessions", "TYPE_INTEGER"),
    "screenPageViews": ("page_views", "TYPE_INTEGER"),
    "addToCarts": ("add_to_carts", "TYPE_INTEGER"),
    "ecommercePurchases": ("purchases", "TYPE_INTEGER"),
    "purchaseRevenue": ("revenue", "TYPE_CURRENCY"),
}
_DAYS_AGO = re.compile(r"^(\d+)daysAgo$")


def prepare(web_user_days: pd.DataFrame) -> pd.DataFrame:
    """The table with its dimensions rendered as GA4 strings (done once per store version)."""
    days = pd.to_datetime(web_user_days["date"])
    frame = pd.DataFrame(
        {
            "day": days,
            "date_key": days.dt.strftime("%Y%m%d"),
            "user_id": web_user_days["user_id"]
            .astype("object")
            .where(web_user_days["user_id"].notna(), NOT_SET)
            .astype(str),
            "client_id": web_user_days["client_id"].astype(str),
        }
    )
    for column, _ in METRICS.values():
        frame[column] = web_user_days[column]
    return frame


def resolve_date(text: str, today: date) -> date:
    """A GA4 date: YYYY-MM-DD, today, yesterday or NdaysAgo (relative to the property's day)."""
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    if match := _DAYS_AGO.match(text):
        return today - timedelta(days=int(match.group(1)))
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise BadRequest(f"Invalid date {text!r}") from exc


def _names(items: Sequence[Mapping[str, Any]], known: Mapping[str, Any], kind: str) -> list[str]:
    names = [str(item.get("name", "")) for item in items]
    for name in names:
        if name not in known:
            raise BadRequest(f"Field {name} is not a valid {kind} for this property.")
    return names


@dataclass(frozen=True)
class ReportQuery:
    """A validated runReport body; `table_key` identifies its full result table (for caching)."""

    dimensions: tuple[str, ...]
    metrics: tuple[str, ...]
    start: date
    end: date
    limit: int
    offset: int

    @property
    def table_key(self) -> tuple:
        return self.dimensions, self.metrics, self.start, self.end

    @classmethod
    def parse(cls, body: Mapping[str, Any], today: date) -> ReportQuery:
        ranges = body.get("dateRanges") or []
        if len(ranges) != 1:
            raise BadRequest("Exactly one dateRange is supported.")
        metrics = _names(body.get("metrics") or [], METRICS, "metric")
        if not metrics:
            raise BadRequest("At least one metric is required.")
        return cls(
            dimensions=tuple(_names(body.get("dimensions") or [], DIMENSIONS, "dimension")),
            metrics=tuple(metrics),
            start=resolve_date(str(ranges[0].get("startDate", "")), today),
            end=resolve_date(str(ranges[0].get("endDate", "")), today),
            limit=int_param(body.get("limit"), "limit", LIMIT_DEFAULT, 1, LIMIT_MAX),
            offset=int_param(body.get("offset"), "offset", 0, 0, 2**63 - 1),
        )


def _metric_text(value: Any, metric_type: str) -> str:
    if metric_type == "TYPE_INTEGER":
        return str(int(value))
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def aggregate(prepared: pd.DataFrame, query: ReportQuery) -> list[dict[str, Any]]:
    """Every row of the query's result table, in GA4's row shape, sorted by dimension values."""
    days = prepared["day"]
    in_range = prepared[(days >= pd.Timestamp(query.start)) & (days <= pd.Timestamp(query.end))]
    columns = [METRICS[m][0] for m in query.metrics]
    keys = [DIMENSIONS[d] for d in query.dimensions]
    if not len(in_range):
        return []
    if keys:
        sums = in_range.groupby(keys, sort=True)[columns].sum().reset_index()
    else:
        sums = in_range[columns].sum().to_frame().T
    types = [METRICS[m][1] for m in query.metrics]
    return [
        {
            "dimensionValues": [{"value": str(v)} for v in row[: len(keys)]],
            "metricValues": [
                {"value": _metric_text(v, t)} for v, t in zip(row[len(keys) :], types, strict=True)
            ],
        }
        for row in sums[keys + columns].itertuples(index=False, name=None)
    ]


def report(query: ReportQuery, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The runReport response for one page of a result table."""
    body: dict[str, Any] = {
        "dimensionHeaders": [{"name": d} for d in query.dimensions],
        "metricHeaders": [{"name": m, "type": METRICS[m][1]} for m in query.metrics],
    }
    if rows:  # proto3 JSON leaves out empty lists and zero counts
        body["rows"] = rows[query.offset : query.offset + query.limit]
        body["rowCount"] = len(rows)
    body["metadata"] = {"currencyCode": "USD", "timeZone": PROPERTY_TIMEZONE}
    body["kind"] = "analyticsData#runReport"
    return body


class ResultCache:
    """Result tables per query, so paging through a report slices a cached table instead of
    aggregating the world again for every page. Rebuilt only when the web table itself is
    replaced: mutations of other tables (the common case) keep the cache warm."""

    max_tables = 32

    def __init__(self, store: SandboxStore) -> None:
        self._store = store
        self._source: pd.DataFrame | None = None
        self._prepared = pd.DataFrame()
        self._tables: dict[tuple, list[dict[str, Any]]] = {}

    def rows(self, query: ReportQuery) -> list[dict[str, Any]]:
        with self._store.lock:
            source = self._store.world.tables["web_user_days"]
            if source is not self._source:
                self._prepared = prepare(source)
                self._tables.clear()
                self._source = source
            if query.table_key not in self._tables:
                if len(self._tables) >= self.max_tables:
                    self._tables.clear()
                self._tables[query.table_key] = aggregate(self._prepared, query)
            return self._tables[query.table_key]


def error_body(status: int, message: str) -> dict[str, Any]:
    state = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        503: "UNAVAILABLE",
    }.get(status, "INTERNAL")
    return {"error": {"code": status, "message": message, "status": state}}


def api(store: SandboxStore, runtime: ApiRuntime, property_id: str) -> VendorApi:
    """GA4's routes over `store` for the one property `property_id`."""
    assert runtime.issuer is not None
    issuer = runtime.issuer
    results = ResultCache(store)

    async def run_report(request: Request):
        if request.path_params["property_id"] != property_id:
            message = "User does not have sufficient permissions for this property."
            return json_response(error_body(403, message), 403)
        today = pd.Timestamp(store.world.as_of).tz_convert(PROPERTY_TIMEZONE).date()
        query = ReportQuery.parse(await request.json(), today)
        return json_response(report(query, results.rows(query)))

    def authenticate(headers: Headers) -> Principal | AuthError:
        token = bearer_token(headers)
        if token is None:
            return AuthError.MISSING
        return issuer.check(token) or Principal(token, oauth_token=token)

    routes = [
        token_route(TOKEN_PATH, issuer),
        Route("/v1beta/properties/{property_id}:runReport", run_report, methods=["POST"]),
    ]
    return VendorApi(routes, authenticate, error_body, open_paths=(TOKEN_PATH,))
