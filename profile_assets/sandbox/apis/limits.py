"""Per-credential rate limits and the Retry-After header that announces them."""

from __future__ import annotations

import email.utils
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

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
