"""Control endpoints every sandbox API server carries under /_sandbox (no credentials: the
servers listen on 127.0.0.1 only). They turn the runtime knobs tests and demos need:

- GET    /_sandbox/health      status, store version, record counts, active faults, rate limit
- POST   /_sandbox/faults      add a fault: {"kind": "5xx"|"slow"|"drop"|"truncate"|
                               "expire_token"|"rate_limit", "every_n": 1, "count": null,
                               "rate": null, "seed": 0, "status": 503, "delay_s": 1.0,
                               "path_prefix": ""}; GET lists, DELETE clears them all
- POST   /_sandbox/ratelimit   {"requests": n|null, "per_seconds": s, "retry_after":
                               "seconds"|"http-date"|"zero"}; GET shows, DELETE restores default
- POST   /_sandbox/oauth       {"expires_in": s}: lifetime of tokens issued from now on
- POST   /_sandbox/mutate      {"people": n, "seed": s}: sandbox.changes.generate_changes,
                               served by every API (they share the store) and handed to
                               `on_changes`
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from profile_assets.sandbox.apis.common import CONTROL_PREFIX, ApiRuntime, json_response
from profile_assets.sandbox.apis.faults import Fault
from profile_assets.sandbox.apis.limits import RateLimitPolicy
from profile_assets.sandbox.apis.store import SandboxStore

OnChanges = Callable[[Any], None]
"""Called with each applied ChangeSet (e.g. so the storefront Postgres applies it too)."""


def _bad(message: str):
    return json_response({"error": message}, 400)


def control_routes(
    runtime: ApiRuntime, store: SandboxStore, on_changes: OnChanges | None = None
) -> list[BaseRoute]:
    async def health(request: Request):
        return json_response(
            {
                "status": "ok",
                "api": runtime.name,
                "version": store.version,
                "records": store.counts(),
                "faults": runtime.faults.active(),
                "rate_limit": runtime.limiter.policy.as_json(),
            }
        )

    async def faults(request: Request):
        if request.method == "DELETE":
            runtime.faults.clear()
        elif request.method == "POST":
            try:
                fault = Fault.from_json(await request.json())
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
            runtime.faults.add(fault)
            return json_response({"fault": fault.as_json()}, 201)
        return json_response({"faults": runtime.faults.active()})

    async def rate_limit(request: Request):
        if request.method == "DELETE":
            runtime.limiter.set_policy(runtime.limiter.default_policy)
        elif request.method == "POST":
            try:
                runtime.limiter.set_policy(RateLimitPolicy.from_json(await request.json()))
            except (ValueError, TypeError) as exc:
                return _bad(str(exc))
        return json_response({"rate_limit": runtime.limiter.policy.as_json()})

    async def oauth(request: Request):
        if runtime.issuer is None:
            return json_response({"error": f"{runtime.name} has no OAuth endpoint"}, 404)
        try:
            runtime.issuer.ttl_s = float((await request.json())["expires_in"])
        except (KeyError, ValueError, TypeError) as exc:
            return _bad(f"expires_in (seconds) is required: {exc}")
        return json_response({"expires_in": runtime.issuer.ttl_s})

    async def mutate(request: Request):
        body = await request.json()
        try:
            people, seed = int(body["people"]), int(body.get("seed", 0))
        except (KeyError, ValueError, TypeError) as exc:
            return _bad(f"people (int) is required: {exc}")
        changeset, applied = await run_in_threadpool(store.mutate, people, seed)
        if on_changes is not None:
            await run_in_threadpool(on_changes, changeset)
        return json_response({"version": store.version, "applied": applied})

    return [
        Route(f"{CONTROL_PREFIX}/health", health, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{CONTROL_PREFIX}/ratelimit", rate_limit, methods=["GET", "POST", "DELETE"]),
        Route(f"{CONTROL_PREFIX}/oauth", oauth, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/mutate", mutate, methods=["POST"]),
    ]
