"""One small `ConfigurableResource` per source system, and the environment variables that
configure each.

Secrets are wired with `EnvVar` when the variable is set, so they are resolved at run time and
never baked into definitions, logs or metadata.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from dagster import ConfigurableResource, EnvVar


class MissingSettingError(RuntimeError):
    """A connector setting has no value: a configuration error that no retry can fix."""


class SourceResource(ConfigurableResource):
    """Base for source connectors: `setting()` resolves a field, then the defaults file.

    `defaults_file` is a JSON file whose `env` object maps setting names (the environment
    variable names) to values, read at run time; the `sandbox` environment points it at the
    running sandbox's state. No other environment sets it, so production never falls back.
    """

    defaults_file: str | None = None

    def setting(self, field: str, *, required: bool = True) -> str | None:
        env_name = _ENV_NAMES[type(self)][field]
        value = getattr(self, field) or self._default(env_name)
        if value is None and required:
            hint = (
                "and the sandbox is not running (`profile-assets sandbox up`)"
                if self.defaults_file
                else "(or run with PROFILE_ASSETS_ENV=sandbox against `profile-assets sandbox up`)"
            )
            raise MissingSettingError(f"{env_name} is not set {hint}")
        return value

    def _default(self, env_name: str) -> str | None:
        path = Path(self.defaults_file) if self.defaults_file else None
        if path is None or not path.exists():
            return None
        value = json.loads(path.read_text()).get("env", {}).get(env_name)
        return None if value is None else str(value)


class HubSpotResource(SourceResource):
    """HubSpot CRM v3: a private-app token, or OAuth2 client credentials with refresh."""

    base_url: str | None = None
    token_url: str | None = None
    access_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    refresh_token: str | None = None


class ZendeskResource(SourceResource):
    """Zendesk Support: API-token basic auth (`{email}/token:{api_token}`)."""

    base_url: str | None = None
    email: str | None = None
    api_token: str | None = None


class GA4Resource(SourceResource):
    """GA4 Data API: OAuth2 client credentials for one property."""

    base_url: str | None = None
    token_url: str | None = None
    property_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


class EnrichmentResource(SourceResource):
    """A Clearbit-like person lookup by email, authenticated by API key."""

    base_url: str | None = None
    api_key: str | None = None


class StorefrontResource(SourceResource):
    """The storefront's Postgres (logical replication for CDC)."""

    dsn: str | None = None
    slot_name: str = "profile_assets_cdc"


#: Each source resource's fields and the environment variables that configure them.
SOURCE_SETTINGS: dict[str, tuple[type[SourceResource], dict[str, str]]] = {
    "hubspot": (
        HubSpotResource,
        {
            "base_url": "HUBSPOT_BASE_URL",
            "token_url": "HUBSPOT_TOKEN_URL",
            "access_token": "HUBSPOT_ACCESS_TOKEN",
            "client_id": "HUBSPOT_CLIENT_ID",
            "client_secret": "HUBSPOT_CLIENT_SECRET",
            "refresh_token": "HUBSPOT_REFRESH_TOKEN",
        },
    ),
    "zendesk": (
        ZendeskResource,
        {
            "base_url": "ZENDESK_BASE_URL",
            "email": "ZENDESK_EMAIL",
            "api_token": "ZENDESK_API_TOKEN",
        },
    ),
    "ga4": (
        GA4Resource,
        {
            "base_url": "GA4_BASE_URL",
            "token_url": "GA4_TOKEN_URL",
            "property_id": "GA4_PROPERTY_ID",
            "client_id": "GA4_CLIENT_ID",
            "client_secret": "GA4_CLIENT_SECRET",
        },
    ),
    "enrichment": (
        EnrichmentResource,
        {"base_url": "ENRICHMENT_BASE_URL", "api_key": "ENRICHMENT_API_KEY"},
    ),
    "storefront": (StorefrontResource, {"dsn": "STOREFRONT_DSN"}),
}

_ENV_NAMES = {cls: fields for cls, fields in SOURCE_SETTINGS.values()}


def source_resources(
    values: Mapping[str, str] | None = None, *, defaults_file: str | None = None
) -> dict[str, SourceResource]:
    """One resource per source system.

    Without `values`, every variable set in the environment is wired as an `EnvVar` (resolved
    at run time, never baked into the definitions); unset ones fall back to `defaults_file`
    at run time when one is given. With `values` (e.g. a sandbox's `env()`), fields take
    those literal values.
    """

    def value(name: str) -> str | EnvVar | None:
        if values is not None:
            return values.get(name)
        return EnvVar(name) if name in os.environ else None

    return {
        key: cls(
            defaults_file=defaults_file,
            **{field: value(env_name) for field, env_name in fields.items()},
        )
        for key, (cls, fields) in SOURCE_SETTINGS.items()
    }
