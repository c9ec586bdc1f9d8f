"""What every simulated vendor API shares: credentials, OAuth tokens, per-credential rate limits
and runtime fault injection, plus the timestamp renderings the vendors use.

Auth, rate limits and faults live in one pure-ASGI middleware wrapped around each vendor app
(outermost, outside Starlette's own error middleware) so that vendor modules only describe their
endpoints, and so that a "drop" fault can close the raw socket before any response starts.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import enum
import json
import math
import random
import secrets
import threading
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTROL_PREFIX = "/_sandbox"

# ---------------------------------------------------------------------------------------------
# Rendering helpers: each vendor has its own timestamp convention.


def utc_series(values: pd.Series) -> pd.Series:
    """Coerce a column to tz-aware UTC; broken values become NaT instead of failing the load."""
    return pd.to_datetime(values, utc=True, errors="coerce")


def iso_utc(values: pd.Series, *, millis: bool) -> list[str | None]:
    """ISO-8601 UTC with a Z: HubSpot uses milliseconds, Zendesk whole seconds."""
    ts = utc_series(values)
    text = (
        ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3]
        if millis
        else ts.dt.strftime("%Y-%m-%dT%H:%M:%S")
    )
    return [None if pd.isna(v) else f"{v}Z" for v in text]


def epoch(values: pd.Series, *, millis: bool) -> list[int]:
    """Integer epoch (ms or s) used as the change-index key; NaT sorts first as 0."""
    ts = utc_series(values)
    ns = ts.astype("int64", copy=False).where(ts.notna(), 0)
    return (ns // (1_000_000 if millis else 1_000_000_000)).astype("int64").tolist()


def plain(value: Any) -> Any:
    """A cell as a JSON-safe scalar: NaN/NA/NaT become None, numpy scalars become Python."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, dict, str, bool)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    return value.item() if hasattr(value, "item") else value


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None):
    """JSON with the compact separators real APIs use (Starlette's default)."""
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


# ---------------------------------------------------------------------------------------------
# Credentials


class AuthError(enum.Enum):
    MISSING = "missing"
    INVALID = "invalid"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Principal:
    """Who is calling: `credential` is what rate limits count against; `oauth_token` is set when
    the caller used an expiring OAuth access token (only those can be expired mid-pagination)."""

    credential: str
    oauth_token: str | None = None


Authenticate = Callable[[Headers], "Principal | AuthError"]


def bearer_token(headers: Headers) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class OAuthIssuer:
    """OAuth2 token endpoint state: client credentials in, expiring bearer tokens out.

    Tokens are random strings remembered with their expiry, so expiring one (a fault) or
    shortening the lifetime (a test) takes effect on the next request.
    """

    def __init__(
        self,
        clients: Mapping[str, str],
        *,
        ttl_s: float,
        token_prefix: str,
        token_type: str,
        issue_refresh_tokens: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clients = dict(clients)
        self.ttl_s = ttl_s
        self._prefix = token_prefix
        self._token_type = token_type
        self._issue_refresh = issue_refresh_tokens
        self._clock = clock
        self._access: dict[str, float] = {}
        self._refresh: dict[str, str] = {}  # refresh token -> client id
        self._lock = threading.Lock()

    def grant(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer a token request (RFC 6749 form fields) with (status, JSON body)."""
        client_id = form.get("client_id", "")
        if not client_id or self.clients.get(client_id) != form.get("client_secret"):
            return 401, {"error": "invalid_client", "error_description": "unknown client"}
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            with self._lock:
                owner = self._refresh.get(form.get("refresh_token", ""))
            if owner != client_id:
                return 400, {"error": "invalid_grant", "error_description": "bad refresh token"}
        elif grant_type != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": str(grant_type)}
        return 200, self._issue(client_id, reuse_refresh=form.get("refresh_token"))

    def _issue(self, client_id: str, reuse_refresh: str | None) -> dict[str, Any]:
        access = f"{self._prefix}-{secrets.token_urlsafe(24)}"
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": self._token_type,
            "expires_in": int(math.ceil(self.ttl_s)),
        }
        with self._lock:
            self._access[access] = self._clock() + self.ttl_s
            if self._issue_refresh:
                refresh = reuse_refresh or secrets.token_urlsafe(24)
                self._refresh[refresh] = client_id
                body["refresh_token"] = refresh
        return body

    def check(self, token: str) -> AuthError | None:
        with self._lock:
            expires_at = self._access.get(token)
        if expires_at is None:
            return AuthError.INVALID
        return AuthError.EXPIRED if self._clock() >= expires_at else None

    def expire(self, token: str) -> None:
        with self._lock:
            if token in self._access:
                self._access[token] = 0.0


# ---------------------------------------------------------------------------------------------
# Rate limits

RetryAfterForm = Literal["seconds", "http-date", "zero"]


@dataclass(frozen=True)
class RateLimitPolicy:
    """`requests` per `per_seconds` per credential (fixed window); None means unlimited.
    `retry_after` picks the Retry-After form: delta seconds, an HTTP-date, or a literal 0."""

    requests: int | None
    per_seconds: float = 1.0
    retry_after: RetryAfterForm = "seconds"

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RateLimitPolicy:
        form = body.get("retry_after", "seconds")
        if form not in ("seconds", "http-date", "zero"):
            raise ValueError(f"retry_after must be seconds, http-date or zero, not {form!r}")
        requests = body.get("requests")
        return cls(
            requests=None if requests is None else int(requests),
            per_seconds=float(body.get("per_seconds", 1.0)),
            retry_after=form,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "per_seconds": self.per_seconds,
            "retry_after": self.retry_after,
        }


def retry_after_header(wait_s: float, form: RetryAfterForm, now: float | None = None) -> str:
    """Render a wait in the configured Retry-After form (RFC 9110 allows seconds or a date)."""
    if form == "zero":
        return "0"
    seconds = max(1, math.ceil(wait_s))
    if form == "seconds":
        return str(seconds)
    return email.utils.formatdate((now or time.time()) + seconds, usegmt=True)


class RateLimiter:
    """Fixed-window request counter per credential; the policy can be swapped at runtime."""

    def __init__(self, policy: RateLimitPolicy, clock: Callable[[], float] = time.monotonic):
        self.default_policy = policy
        self.policy = policy
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def set_policy(self, policy: RateLimitPolicy) -> None:
        with self._lock:
            self.policy = policy
            self._windows.clear()

    def acquire(self, credential: str) -> float | None:
        """Count one request; return the seconds until the window reopens if over the limit."""
        policy = self.policy
        if policy.requests is None:
            return None
        now = self._clock()
        with self._lock:
            start, used = self._windows.get(credential, (now, 0))
            if now - start >= policy.per_seconds:
                start, used = now, 0
            if used >= policy.requests:
                return start + policy.per_seconds - now
            self._windows[credential] = (start, used + 1)
        return None


# ---------------------------------------------------------------------------------------------
# Faults

FaultKind = Literal["5xx", "slow", "drop", "truncate", "expire_token", "rate_limit"]
FAULT_KINDS: tuple[str, ...] = ("5xx", "slow", "drop", "truncate", "expire_token", "rate_limit")


@dataclass
class Fault:
    """One injected misbehaviour. It fires on every `every_n`-th eligible request (or with
    probability `rate`, from a seeded generator) until it has fired `count` times (None: until
    cleared). Eligible = an authenticated data request whose path starts with `path_prefix`;
    `expire_token` only counts requests made with an OAuth access token."""

    kind: FaultKind
    every_n: int = 1
    count: int | None = None
    rate: float | None = None
    seed: int = 0
    status: int = 503
    delay_s: float = 1.0
    path_prefix: str = ""
    seen: int = 0
    fired: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Fault:
        kind = body.get("kind")
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        fault = cls(
            kind=kind,
            every_n=int(body.get("every_n", 1)),
            count=None if body.get("count") is None else int(body["count"]),
            rate=None if body.get("rate") is None else float(body["rate"]),
            seed=int(body.get("seed", 0)),
            status=int(body.get("status", 503)),
            delay_s=float(body.get("delay_s", 1.0)),
            path_prefix=str(body.get("path_prefix", "")),
        )
        if fault.every_n < 1 or (fault.count is not None and fault.count < 1):
            raise ValueError("every_n and count must be >= 1")
        if not 500 <= fault.status <= 599:
            raise ValueError("status must be a 5xx code")
        fault._rng.seed(fault.seed)
        return fault

    def as_json(self) -> dict[str, Any]:
        keys = ("kind", "every_n", "count", "rate", "seed", "status", "delay_s", "path_prefix")
        return {k: getattr(self, k) for k in keys} | {"seen": self.seen, "fired": self.fired}

    def _fires(self) -> bool:
        self.seen += 1
        if self.rate is not None:
            return self._rng.random() < self.rate
        return self.seen % self.every_n == 0


class FaultInjector:
    """The active faults of one API; the first eligible fault that fires wins the request."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_json() for f in self._faults]

    def pick(self, path: str, has_oauth_token: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not path.startswith(fault.path_prefix):
                    continue
                if fault.kind == "expire_token" and not has_oauth_token:
                    continue
                if fault._fires():
                    fault.fired += 1
                    if fault.count is not None and fault.fired >= fault.count:
                        self._faults.remove(fault)
                    return fault
        return None


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
            await _drop_connection(send)
        elif fault.kind == "truncate":
            await self.app(scope, receive, _truncating(send))
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


async def _drop_connection(send: Send) -> None:
    """Close the TCP connection without a byte of response, like a crashed load balancer.

    ASGI has no message for this, so reach the transport of uvicorn's request cycle (the bound
    `send` we get as the outermost app); then yield so uvicorn sees the disconnect and does not
    try to write its own 500.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("drop fault needs uvicorn's transport")
    transport.abort()
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def _truncating(send: Send) -> Callable[[Message], Awaitable[None]]:
    """A send that delivers a well-framed HTTP response whose JSON body is cut in half."""
    start: dict[str, Any] = {}
    body = bytearray()

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        body.extend(message.get("body", b""))
        if message.get("more_body", False):
            return
        cut = bytes(body[: len(body) // 2])
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(cut)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": cut, "more_body": False})

    return wrapped


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
