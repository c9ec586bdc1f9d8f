"""The HTTP layer every REST source shares: dlt's `RESTClient`, extended where it falls short.

dlt already does the hard, boring parts well and we use them as they are: paginators, the
retrying session (429/5xx/dropped connections, exponential backoff honouring `Retry-After`
as seconds or HTTP-date), OAuth2 client credentials, URL redaction. Four gaps are closed here,
each at the layer where dlt itself would close it rather than in the callers:

- **Retry storms.** A server answering `429` with `Retry-After: 0` (dlt issue 4036) must not be
  hammered: every wait between attempts is floored at `RetrySettings.min_backoff`, by swapping
  the wait strategy of dlt's own tenacity policy (`retry_with`) and keeping everything else.
- **Truncated bodies.** A `200` whose JSON does not parse is a transport fault, not data: a
  retry predicate on dlt's session re-sends the request. The parsed body is cached on the
  response so paginator and data selector do not parse it again.
- **Token expiry mid-pagination.** A `401` halfway through a paginated read means the token
  died early; the token auths below fetch a new one and re-send once (the pattern requests'
  own digest auth uses), and update the request so any later retry carries the new token.
- **Secrets in logs.** dlt logs request headers at DEBUG; `SourceClient` logs only the
  sanitized URL, and `redact()` strips credential values from error messages we raise.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dlt.common.configuration.specs.base_configuration import configspec
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.requests.retry import Client, wait_exponential_retry_after
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import (
    AuthConfigBase,
    BearerTokenAuth,
    HttpBasicAuth,
    OAuth2ClientCredentials,
)
from dlt.sources.helpers.rest_client.redaction import sanitize_url
from requests import PreparedRequest, Request, Response, Session
from tenacity import RetryCallState

log = logging.getLogger(__name__)

REDACTED = "***"


class SourceError(RuntimeError):
    """A source could not be read; the message is already free of credentials."""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every (non-trivial) secret value replaced by `***`."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


@dataclass(frozen=True)
class RetrySettings:
    """How hard to try one request before the step fails (and Dagster's RetryPolicy takes over)."""

    max_attempts: int = 8
    backoff_factor: float = 0.5
    max_delay: float = 30.0
    min_backoff: float = 0.25
    timeout: float = 60.0


class FlooredWait(wait_exponential_retry_after):
    """dlt's wait (Retry-After, else exponential), never shorter than `floor` seconds."""

    def __init__(self, floor: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.floor = floor

    def __call__(self, retry_state: RetryCallState) -> float:
        return max(self.floor, super().__call__(retry_state))


def _is_json(response: Response) -> bool:
    return "json" in response.headers.get("Content-Type", "")


def _json_body_truncated(response: Response | None, exception: BaseException | None) -> bool:
    """Retry predicate: a successful response whose JSON body does not parse."""
    if response is None or response.status_code >= 300 or not _is_json(response):
        return False
    try:
        parsed = json.loads(response.content)  # the C parser; requests may pick simplejson's
    except ValueError:
        return True
    response.json = lambda **_: parsed  # cache: paginators and selectors parse again otherwise
    return False


def retrying_session(settings: RetrySettings) -> Session:
    """dlt's retrying session with a backoff floor and the truncated-body predicate."""
    http = Client(
        request_timeout=settings.timeout,
        raise_for_status=False,
        request_max_attempts=settings.max_attempts,
        request_backoff_factor=settings.backoff_factor,
        request_max_retry_delay=settings.max_delay,
        retry_condition=_json_body_truncated,
    )
    session = http.session
    session.send = session.send.retry_with(
        wait=FlooredWait(
            settings.min_backoff, multiplier=settings.backoff_factor, max=settings.max_delay
        )
    )
    return session


class SourceClient(RESTClient):
    """dlt's RESTClient that never logs headers, bodies or query secrets."""

    def _log_request(self, request: Request, prepared_url: str) -> None:
        log.debug("%s %s", request.method.upper(), sanitize_url(prepared_url))


def make_client(
    base_url: str, auth: AuthConfigBase, settings: RetrySettings | None = None
) -> SourceClient:
    """A client for one source; the auth shares the retrying session for its token calls."""
    session = retrying_session(settings or RetrySettings())
    if hasattr(auth, "session"):
        auth.session = session
    return SourceClient(base_url=base_url, auth=auth, session=session)


class _RefreshOn401:
    """Mixin for token auths: on a 401, obtain a fresh token and re-send the request once."""

    access_token: str | None

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request = super().__call__(request)  # type: ignore[misc]
        request.register_hook("response", self._resend_with_fresh_token)
        return request

    def _resend_with_fresh_token(self, response: Response, **kwargs: Any) -> Response:
        if response.status_code != 401:
            return response
        log.info("token rejected by %s; refreshing", sanitize_url(response.url))
        self.obtain_token()  # type: ignore[attr-defined]  # from the OAuth2 base class
        # Mutating the original request lets the session's retries re-send it with the new token.
        response.request.headers["Authorization"] = f"Bearer {self.access_token}"
        _ = response.content
        response.close()
        fresh = response.connection.send(response.request, **kwargs)
        fresh.history.append(response)
        return fresh


@configspec
class RefreshingClientCredentials(_RefreshOn401, OAuth2ClientCredentials):
    """OAuth2 client credentials (GA4) that survive a token revoked mid-pagination."""


@configspec
class RefreshingRefreshToken(_RefreshOn401, OAuth2ClientCredentials):
    """OAuth2 refresh-token grant (HubSpot public apps): a new access token on expiry or 401."""

    refresh_token: TSecretStrValue = None

    def build_access_token_request(self) -> dict[str, Any]:
        return {
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "data": {
                "grant_type": "refresh_token",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "refresh_token": self.refresh_token,
            },
        }


__all__ = [
    "BearerTokenAuth",
    "HttpBasicAuth",
    "RefreshingClientCredentials",
    "RefreshingRefreshToken",
    "RetrySettings",
    "SourceClient",
    "SourceError",
    "make_client",
    "auth_secrets",
    "redact",
    "redacted_errors",
    "retrying_session",
]


def auth_secrets(auth: Any) -> list[str | None]:
    """The credential values an auth object holds right now (tokens change on refresh)."""
    names = ("token", "access_token", "password", "api_key", "client_secret", "refresh_token")
    return [getattr(auth, name, None) for name in names]


@contextmanager
def redacted_errors(auth: Any) -> Iterator[None]:
    """Re-raise any failure as a `SourceError` whose message carries no credential of `auth`.

    The original exception is not chained: its message, arguments or request objects may
    hold the very secrets this strips, and Dagster logs the whole chain.
    """
    try:
        yield
    except Exception as exc:
        message = redact(f"{type(exc).__name__}: {exc}", auth_secrets(auth))
        raise SourceError(message) from None
