"""The person-enrichment API (Clearbit-like: `GET /v2/people/find?email=`), one answer a call.

Answers are classified, never raised: `enriched` (200), `queued` (202: the vendor is looking
the person up; ask again on a later run, never in a loop), `unknown` (404/422: nobody by that
address; remembered until the TTL), `failed` (5xx, timeouts, bad JSON: asked again next run).
A 429 is the per-minute quota: the client waits out `Retry-After` only while it fits the run's
wait budget, then stops asking (`QuotaExhausted`) so enrichment never holds up the profiles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

ENRICHED, QUEUED, UNKNOWN, FAILED = "enriched", "queued", "unknown", "failed"


class QuotaExhausted(RuntimeError):
    """The vendor's quota is used up for longer than this run may wait."""


class EnrichmentAuthError(RuntimeError):
    """401/403: the API key is wrong; no retry can fix that."""


@dataclass(frozen=True)
class Answer:
    status: str
    payload: dict[str, Any] | None = None
    detail: str | None = None


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """`Retry-After` as seconds or an HTTP date; a missing or odd value waits `default`."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return default


class EnrichmentClient:
    """One HTTP session to the vendor with a per-run budget for waiting on the quota."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 5.0,
        max_wait_seconds: float = 5.0,
        min_backoff: float = 0.2,
    ):
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )
        self._wait_budget = max_wait_seconds
        self._min_backoff = min_backoff

    def __enter__(self) -> EnrichmentClient:
        return self

    def __exit__(self, *exc) -> None:
        self._http.close()

    def find(self, email: str) -> Answer:
        while True:
            try:
                response = self._http.get("/v2/people/find", params={"email": email})
            except httpx.HTTPError as error:
                return Answer(FAILED, detail=type(error).__name__)
            if response.status_code != 429:
                return _classify(response)
            wait = max(self._min_backoff, retry_after_seconds(response.headers.get("Retry-After")))
            if wait > self._wait_budget:
                raise QuotaExhausted(f"quota exhausted; the vendor asks to wait {wait:.0f}s")
            self._wait_budget -= wait
            time.sleep(wait)


def _classify(response: httpx.Response) -> Answer:
    status = response.status_code
    if status in (401, 403):
        raise EnrichmentAuthError(f"enrichment API refused the key ({status})")
    if status == 202:
        return Answer(QUEUED)
    if status in (404, 422):
        return Answer(UNKNOWN, detail=str(status))
    if status != 200:
        return Answer(FAILED, detail=str(status))
    try:
        return Answer(ENRICHED, payload=response.json())
    except ValueError:
        return Answer(FAILED, detail="invalid JSON")
