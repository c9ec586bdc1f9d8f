"""The HTTP API for email engines: a raw ASGI app (no framework on the hot path).

    GET /v1/profiles/{email_or_id}                      the served record (JSON)
    GET /v1/profiles/{email_or_id}/render/{template}    the rendered email (?format=html|text)
    GET /health                                         liveness + snapshot generation (no key)
    GET /metrics                                        Prometheus text

Why raw ASGI: the record is stored pre-serialized, so a lookup answer is a SQLite read and
two `send` calls; a framework's routing, request and response objects cost more than that
(see bench/RESULTS.md). Keys come from PROFILE_ASSETS_API_KEYS (comma-separated), sent as
`X-API-Key: K` or `Authorization: Bearer K`. Errors are JSON. Answers carry an ETag (the
record's hash) and honour If-None-Match; Cache-Control lets an engine cache for a minute.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qs

import orjson

from profile_assets.serving import templates
from profile_assets.serving.lookup import SnapshotReader, reader
from profile_assets.serving.metrics import CONTENT_TYPE as METRICS_TYPE
from profile_assets.serving.metrics import Metrics

API_KEYS_ENV = "PROFILE_ASSETS_API_KEYS"
CACHE_CONTROL = b"private, max-age=60"
JSON = b"application/json"
_ERRORS = {
    400: b'{"error":"bad_request"}',
    401: b'{"error":"unauthorized"}',
    404: b'{"error":"not_found"}',
    405: b'{"error":"method_not_allowed"}',
    422: b'{"error":"template_failed"}',
    503: b'{"error":"no_snapshot"}',
}


class NoApiKeys(RuntimeError):
    """Refusing to serve without keys (pass no_auth=True / --no-auth to mean it)."""


def api_keys_from_env() -> frozenset[bytes]:
    raw = os.environ.get(API_KEYS_ENV, "")
    return frozenset(k.strip().encode() for k in raw.split(",") if k.strip())


class ServingApp:
    """ASGI app answering lookups and renders from `reader`'s snapshot."""

    def __init__(self, snapshot: SnapshotReader, keys: Iterable[bytes], *, no_auth: bool = False):
        self.keys = tuple(keys)
        if not self.keys and not no_auth:
            raise NoApiKeys(f"set {API_KEYS_ENV} (comma-separated) or start with --no-auth")
        self.no_auth = no_auth and not self.keys
        self.snapshot = snapshot
        self.metrics = Metrics(snapshot)
        self.templates_version = _templates_digest()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        route, status, headers, body = self.handle(scope)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
        self.metrics.observe(route, status, time.perf_counter() - started)

    # -- routing
    def handle(self, scope) -> tuple[str, int, list, bytes]:
        """(route label, status, headers, body) for one request."""
        parts = scope["path"].split("/")
        if parts[1:] == ["health"]:
            return ("health", *self._health())
        if scope["method"] not in ("GET", "HEAD"):
            return ("other", *_error(405))
        if not self._authorized(scope["headers"]):
            return ("other", *_error(401))
        if parts[1:] == ["metrics"]:
            return (
                "metrics",
                200,
                [(b"content-type", METRICS_TYPE.encode())],
                self.metrics.exposition(),
            )
        if len(parts) == 4 and parts[1:3] == ["v1", "profiles"] and parts[3]:
            return ("profile", *self._profile(parts[3], scope["headers"]))
        if len(parts) == 6 and parts[1:3] == ["v1", "profiles"] and parts[4] == "render":
            return ("render", *self._render(parts[3], parts[5], scope))
        return ("other", *_error(404))

    def _authorized(self, headers) -> bool:
        if self.no_auth:
            return True
        for name, value in headers:
            if name == b"x-api-key":
                return self._known(value)
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                return self._known(value[7:].strip())
        return False

    def _known(self, key: bytes) -> bool:
        # Every key compared, in constant time per key: timing tells nothing about a key.
        return sum(hmac.compare_digest(key, k) for k in self.keys) > 0

    # -- handlers
    def _health(self) -> tuple[int, list, bytes]:
        generation = self.snapshot.generation
        body = orjson.dumps(
            {"status": "ok" if generation else "no_snapshot", "generation": generation}
        )
        return 200 if generation else 503, [(b"content-type", JSON)], body

    def _profile(self, key: str, headers) -> tuple[int, list, bytes]:
        found = self.snapshot.get(key)
        if found is None:
            return _error(503 if self.snapshot.path is None else 404)
        return _cached(found.etag.encode(), headers, JSON, found.body)

    def _render(self, key: str, name: str, scope) -> tuple[int, list, bytes]:
        fmt = parse_qs(scope["query_string"].decode()).get("format", ["html"])[0]
        if fmt not in templates.FORMATS:
            return _error(400)
        found = self.snapshot.get(key)
        if found is None:
            return _error(404)
        try:
            text = templates.render(name, found.as_dict(), fmt)
        except templates.UnknownTemplate:
            return _error(404)
        except templates.RenderError:
            return _error(422)
        etag = f"{found.etag}-{name}-{fmt}-{self.templates_version}".encode()
        content_type = templates.CONTENT_TYPES[fmt].encode()
        return _cached(etag, scope["headers"], content_type, text.encode())


def _cached(etag: bytes, headers, content_type: bytes, body: bytes) -> tuple[int, list, bytes]:
    quoted = b'"' + etag + b'"'
    common = [(b"etag", quoted), (b"cache-control", CACHE_CONTROL)]
    for name, value in headers:
        if name == b"if-none-match" and quoted in value:
            return 304, common, b""
    return 200, [(b"content-type", content_type), *common], body


def _error(status: int) -> tuple[int, list, bytes]:
    return status, [(b"content-type", JSON)], _ERRORS[status]


def _templates_digest() -> str:
    """A short hash of the template files, so an ETag changes when a template does."""
    digest = hashlib.blake2b(digest_size=4)
    for folder in (os.environ.get(templates.TEMPLATES_ENV), templates.PACKAGED):
        if folder:
            for path in sorted(Path(folder).glob("*.j2")):
                digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(*, no_auth: bool = False, directory: Path | None = None) -> ServingApp:
    """The app on the snapshot in `directory` (default: the serving dir), keys from the env."""
    return ServingApp(reader(directory), api_keys_from_env(), no_auth=no_auth)
