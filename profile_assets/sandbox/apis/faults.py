"""Injected misbehaviour, switched on and off at runtime: which request a fault hits (every
n-th, a seeded random share, the next `count`), and the two faults that need the raw ASGI
channel (dropping the connection, truncating the body)."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.types import Message, Send

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


async def drop_connection(send: Send) -> None:
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


def truncating(send: Send) -> Callable[[Message], Awaitable[None]]:
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
