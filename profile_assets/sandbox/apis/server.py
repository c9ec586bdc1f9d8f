"""Start every simulated vendor API on 127.0.0.1, each on its own port in a background thread.

    sandbox = start_sandbox_apis(generate_world(2000))
    sandbox.urls["hubspot"]          # "http://127.0.0.1:41234"
    sandbox.env()                    # {"HUBSPOT_BASE_URL": ..., "HUBSPOT_ACCESS_TOKEN": ...}
    sandbox.stop()                   # or use it as a context manager

All servers share one SandboxStore, so a mutation posted to any of them shows up in all.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from profile_assets.sandbox.apis import enrichment, ga4, hubspot, zendesk
from profile_assets.sandbox.apis.auth import OAuthIssuer
from profile_assets.sandbox.apis.common import ApiRuntime, VendorApi, assemble
from profile_assets.sandbox.apis.control import OnChanges, control_routes
from profile_assets.sandbox.apis.limits import RateLimiter, RateLimitPolicy
from profile_assets.sandbox.apis.store import GenerateChanges, SandboxStore

API_NAMES = ("hubspot", "zendesk", "ga4", "enrichment")

# Close to the vendors' documented limits where that does not slow a test run down:
# HubSpot private apps 190 / 10 s, Zendesk 700 / min, Clearbit 600 / min.
DEFAULT_RATE_LIMITS = {
    "hubspot": RateLimitPolicy(190, 10.0),
    "zendesk": RateLimitPolicy(700, 60.0),
    "ga4": RateLimitPolicy(600, 60.0),
    "enrichment": RateLimitPolicy(600, 60.0),
}


@dataclass(frozen=True)
class SandboxCredentials:
    """Credentials the sandbox accepts; fresh random ones per start unless given."""

    hubspot_private_app_token: str
    hubspot_client_id: str
    hubspot_client_secret: str
    zendesk_email: str
    zendesk_api_token: str
    ga4_client_id: str
    ga4_client_secret: str
    enrichment_api_key: str

    @classmethod
    def generate(cls) -> SandboxCredentials:
        def token() -> str:
            return secrets.token_urlsafe(18)

        return cls(
            hubspot_private_app_token=f"pat-sandbox-{token()}",
            hubspot_client_id=f"hubspot-client-{secrets.token_hex(4)}",
            hubspot_client_secret=token(),
            zendesk_email="sandbox-admin@example.com",
            zendesk_api_token=token(),
            ga4_client_id=f"ga4-client-{secrets.token_hex(4)}.apps.sandbox",
            ga4_client_secret=token(),
            enrichment_api_key=f"sk_sandbox_{token()}",
        )


@dataclass(frozen=True)
class SandboxConfig:
    """Knobs fixed at start (most can also be turned at runtime via /_sandbox/...)."""

    hubspot_token_ttl_s: float = 1800.0
    ga4_token_ttl_s: float = 3599.0
    ga4_property_id: str = "123456789"
    rate_limits: Mapping[str, RateLimitPolicy] = field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS)
    )
    enrichment_queued_share: float = 0.1


@dataclass
class RunningSandbox:
    """The started servers: base URLs by API name, the accepted credentials, the shared store."""

    urls: dict[str, str]
    credentials: SandboxCredentials
    config: SandboxConfig
    store: SandboxStore
    runtimes: dict[str, ApiRuntime]
    _servers: list[uvicorn.Server] = field(repr=False)
    _threads: list[threading.Thread] = field(repr=False)

    def env(self) -> dict[str, str]:
        """Connector settings under the environment variable names the platform reads."""
        c, u = self.credentials, self.urls
        return {
            "HUBSPOT_BASE_URL": u["hubspot"],
            "HUBSPOT_ACCESS_TOKEN": c.hubspot_private_app_token,
            "HUBSPOT_CLIENT_ID": c.hubspot_client_id,
            "HUBSPOT_CLIENT_SECRET": c.hubspot_client_secret,
            "HUBSPOT_TOKEN_URL": u["hubspot"] + hubspot.TOKEN_PATH,
            "ZENDESK_BASE_URL": u["zendesk"],
            "ZENDESK_EMAIL": c.zendesk_email,
            "ZENDESK_API_TOKEN": c.zendesk_api_token,
            "GA4_BASE_URL": u["ga4"],
            "GA4_TOKEN_URL": u["ga4"] + ga4.TOKEN_PATH,
            "GA4_CLIENT_ID": c.ga4_client_id,
            "GA4_CLIENT_SECRET": c.ga4_client_secret,
            "GA4_PROPERTY_ID": self.config.ga4_property_id,
            "ENRICHMENT_BASE_URL": u["enrichment"],
            "ENRICHMENT_API_KEY": c.enrichment_api_key,
        }

    def stop(self, timeout_s: float = 5.0) -> None:
        for server in self._servers:
            server.should_exit = True
        for thread in self._threads:
            thread.join(timeout_s)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox_apis(
    world: Any,
    *,
    config: SandboxConfig | None = None,
    credentials: SandboxCredentials | None = None,
    on_changes: OnChanges | None = None,
    host: str = "127.0.0.1",
    ports: Mapping[str, int] | None = None,
    generate_changes: GenerateChanges | None = None,
) -> RunningSandbox:
    """Serve `world` through every simulated API and return once all of them accept requests.

    `ports` pins ports by API name (0 or absent: a free port). `on_changes(changeset)` runs after
    each /_sandbox/mutate. `generate_changes` defaults to the world's own
    (`profile_assets.sandbox.changes.generate_changes`).
    """
    config = config or SandboxConfig()
    credentials = credentials or SandboxCredentials.generate()
    sockets = {name: _listen(host, (ports or {}).get(name, 0)) for name in API_NAMES}
    urls = {name: f"http://{host}:{sock.getsockname()[1]}" for name, sock in sockets.items()}
    store = SandboxStore(
        world,
        (*hubspot.TABLE_SPECS, *zendesk.table_specs(urls["zendesk"])),
        generate_changes=generate_changes,
    )
    runtimes = _runtimes(config, credentials)
    apis = _vendor_apis(store, runtimes, config, credentials)
    servers, threads = [], []
    for name in API_NAMES:
        app = assemble(
            apis[name], runtimes[name], control_routes(runtimes[name], store, on_changes)
        )
        server = uvicorn.Server(
            uvicorn.Config(
                app, log_level="warning", access_log=False, lifespan="off", proxy_headers=False
            )
        )
        thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sockets[name]]},
            name=f"sandbox-{name}",
            daemon=True,
        )
        thread.start()
        servers.append(server)
        threads.append(thread)
    sandbox = RunningSandbox(urls, credentials, config, store, runtimes, servers, threads)
    _wait_started(sandbox)
    return sandbox


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def _runtimes(config: SandboxConfig, credentials: SandboxCredentials) -> dict[str, ApiRuntime]:
    def limiter(name: str) -> RateLimiter:
        return RateLimiter(config.rate_limits.get(name, RateLimitPolicy(None)))

    return {
        "hubspot": ApiRuntime(
            "hubspot",
            limiter("hubspot"),
            issuer=OAuthIssuer(
                {credentials.hubspot_client_id: credentials.hubspot_client_secret},
                ttl_s=config.hubspot_token_ttl_s,
                token_prefix="hubspot-oauth",
                token_type="bearer",
                issue_refresh_tokens=True,
            ),
        ),
        "zendesk": ApiRuntime("zendesk", limiter("zendesk")),
        "ga4": ApiRuntime(
            "ga4",
            limiter("ga4"),
            issuer=OAuthIssuer(
                {credentials.ga4_client_id: credentials.ga4_client_secret},
                ttl_s=config.ga4_token_ttl_s,
                token_prefix="ya29.sandbox",
                token_type="Bearer",
                issue_refresh_tokens=False,
            ),
        ),
        "enrichment": ApiRuntime("enrichment", limiter("enrichment")),
    }


def _vendor_apis(
    store: SandboxStore,
    runtimes: dict[str, ApiRuntime],
    config: SandboxConfig,
    credentials: SandboxCredentials,
) -> dict[str, VendorApi]:
    return {
        "hubspot": hubspot.api(store, runtimes["hubspot"], credentials.hubspot_private_app_token),
        "zendesk": zendesk.api(
            store, runtimes["zendesk"], credentials.zendesk_email, credentials.zendesk_api_token
        ),
        "ga4": ga4.api(store, runtimes["ga4"], config.ga4_property_id),
        "enrichment": enrichment.api(
            store,
            runtimes["enrichment"],
            credentials.enrichment_api_key,
            queued_share=config.enrichment_queued_share,
        ),
    }


def _wait_started(sandbox: RunningSandbox, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not all(server.started for server in sandbox._servers):
        if time.monotonic() > deadline or not all(t.is_alive() for t in sandbox._threads):
            sandbox.stop()
            raise RuntimeError("sandbox APIs did not start")
        time.sleep(0.01)
