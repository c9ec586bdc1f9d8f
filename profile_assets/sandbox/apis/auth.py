"""Credentials the simulated vendors accept: static keys and tokens parsed from headers, and
OAuth2 access tokens that expire (by lifetime, or on demand for a fault)."""

from __future__ import annotations

import base64
import enum
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers


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
