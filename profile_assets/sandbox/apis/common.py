"""The HTTP plumbing every simulated vendor API shares.

Auth, per-credential rate limits and faults live in one pure-ASGI middleware wrapped around
each vendor app (outermost, outside Starlette's own error middleware) so that vendor modules
only describe their endpoints, and so that a "drop" fault can close the raw socket before any
response starts. `assemble` builds a vendor's app from its `VendorApi` description.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from profile_assets.sandbox.apis.auth import Authenticate, AuthError, OAuthIssuer, Principal
from profile_assets.sandbox.apis.faults import Fault, FaultInjector, drop_connection, truncating
from profile_assets.sandbox.apis.limits import RateLimiter, retry_after_header

CONTROL_PREFIX = "/_sandbox"


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """JSON with the compact separators real APIs use (Starlette's default)."""
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


# ---------------------------------------------------------------------------------------------
# The middleware

ErrorBody = Callable[[int, str], Any]
"""Vendor-shaped error body for a status and message (HubSpot, Zendesk and Google differ)."""


@dataclass
class ApiRuntime:
    """Runtime knobs of one API server; the control endpoints turn them."""

    name: str
    limiter: RateLimiter
    faults: FaultInjector = field(default_factory=FaultInjector)
    issuer: OAuthIssuer | None = None


AUTH_MESSAGES = {
    AuthError.MISSING: "Authentication credentials not found.",
    AuthError.INVALID: "Authentication credentials are invalid.",
    AuthError.EXPIRED: "The access token has expired; refresh it.",
}


class SandboxMiddleware:
    """Auth -> per-credential rate limit -> faults, in front of a vendor's ASGI app.

    Control routes (/_sandbox/...) and `open_paths` (token endpoints) skip all three: tests must
    be able to switch faults off through the server a fault is breaking.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        runtime: ApiRuntime,
        authenticate: Authenticate,
        error_body: ErrorBody,
        open_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.authenticate = authenticate
        self.error_body = error_body
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(CONTROL_PREFIX) or path in self.open_paths:
            await self.app(scope, receive, send)
            return
        principal = self.authenticate(Headers(scope=scope))
        if isinstance(principal, AuthError):
            await self._error(scope, receive, send, 401, AUTH_MESSAGES[principal])
            return
        wait = self.runtime.limiter.acquire(principal.credential)
        if wait is not None:
            await self._too_many(scope, receive, send, wait)
            return
        fault = self.runtime.faults.pick(path, principal.oauth_token is not None)
        if fault is None:
            await self.app(scope, receive, send)
        else:
            await self._inject(fault, principal, scope, receive, send)

    async def _inject(
        self, fault: Fault, principal: Principal, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if fault.kind == "5xx":
            await self._error(scope, receive, send, fault.status, "Injected server error.")
        elif fault.kind == "slow":
            await asyncio.sleep(fault.delay_s)
            await self.app(scope, receive, send)
        elif fault.kind == "drop":
            await drop_connection(send)
        elif fault.kind == "truncate":
            await self.app(scope, receive, truncating(send))
        elif fault.kind == "rate_limit":
            await self._too_many(scope, receive, send, self.runtime.limiter.policy.per_seconds)
        else:  # expire_token: the token dies now, exactly as if its lifetime had run out
            assert self.runtime.issuer is not None and principal.oauth_token is not None
            self.runtime.issuer.expire(principal.oauth_token)
            await self._error(scope, receive, send, 401, AUTH_MESSAGES[AuthError.EXPIRED])

    async def _too_many(self, scope: Scope, receive: Receive, send: Send, wait: float) -> None:
        header = retry_after_header(wait, self.runtime.limiter.policy.retry_after)
        headers = {"Retry-After": header}
        await self._error(scope, receive, send, 429, "Rate limit exceeded.", headers)

    async def _error(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        response = json_response(self.error_body(status, message), status, headers)
        await response(scope, receive, send)


# ---------------------------------------------------------------------------------------------
# Assembling a vendor app


class BadRequest(ValueError):
    """A request the vendor answers with 400 (its own error shape)."""


class NotFound(LookupError):
    """A resource the vendor answers with 404."""


def int_param(raw: Any, name: str, default: int, low: int, high: int) -> int:
    """An integer request parameter (vendors send some as strings) within [low, high]."""
    try:
        value = default if raw in (None, "") else int(raw)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


async def form_or_json(request: Request) -> dict[str, str]:
    """Token endpoints take url-encoded form fields (the OAuth standard; parsed here because
    Starlette's form parser needs python-multipart); JSON is accepted for convenience."""
    if request.headers.get("content-type", "").startswith("application/json"):
        return {k: str(v) for k, v in (await request.json()).items()}
    return dict(urllib.parse.parse_qsl((await request.body()).decode()))


def token_route(path: str, issuer: OAuthIssuer) -> Route:
    """An OAuth2 token endpoint backed by `issuer`."""

    async def token(request: Request):
        status, body = issuer.grant(await form_or_json(request))
        return json_response(body, status)

    return Route(path, token, methods=["POST"])


@dataclass(frozen=True)
class VendorApi:
    """What a vendor module contributes: its routes, how it authenticates, how its errors look,
    and which paths need no credentials (token endpoints)."""

    routes: list[BaseRoute]
    authenticate: Authenticate
    error_body: ErrorBody
    open_paths: tuple[str, ...] = ()


def assemble(api: VendorApi, runtime: ApiRuntime, control: list[BaseRoute]) -> ASGIApp:
    """A vendor's Starlette app with the control routes, behind the sandbox middleware."""

    def handler(status: int):
        async def handle(request: Request, exc: Exception):
            return json_response(api.error_body(status, str(exc)), status)

        return handle

    app = Starlette(
        routes=[*api.routes, *control],
        exception_handlers={
            BadRequest: handler(400),
            json.JSONDecodeError: handler(400),
            NotFound: handler(404),
        },
    )
    return SandboxMiddleware(
        app,
        runtime=runtime,
        authenticate=api.authenticate,
        error_body=api.error_body,
        open_paths=api.open_paths,
    )
