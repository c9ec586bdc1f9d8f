"""Resources, chosen by environment in one place.

Each external system gets one small `ConfigurableResource`. Secrets are wired with `EnvVar`
when the variable is set; when it is not, the resource falls back at run time to the running
sandbox (`profile-assets sandbox up`), so a laptop needs no vendor credentials and pointing at
the real vendor is only a matter of exporting variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dagster import ConfigurableResource, EnvVar
from dagster_snowflake import SnowflakeResource

from profile_assets import settings
from profile_assets.sandbox.state import sandbox_setting
from profile_assets.warehouse import DuckDBWarehouse, SnowflakeWarehouse, Warehouse


class MissingSettingError(RuntimeError):
    pass


class SourceResource(ConfigurableResource):
    """Base for source connectors: `setting()` resolves a field, then the sandbox."""

    def setting(self, field: str, *, required: bool = True) -> str | None:
        env_name = _ENV_NAMES[type(self)][field]
        value = getattr(self, field) or sandbox_setting(env_name)
        if value is None and required:
            raise MissingSettingError(
                f"{env_name} is not set and no sandbox is running "
                f"(start one with `profile-assets sandbox up`)"
            )
        return value


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


def source_resources(values: Mapping[str, str] | None = None) -> dict[str, SourceResource]:
    """One resource per source system.

    Without `values`, every variable set in the environment is wired as an `EnvVar` (resolved
    at run time, never baked into the definitions) and unset ones mean: use the sandbox at run
    time. With `values` (e.g. a sandbox's `env()`), fields take those literal values.
    """

    def value(name: str) -> str | EnvVar | None:
        if values is not None:
            return values.get(name)
        return EnvVar(name) if name in os.environ else None

    return {
        key: cls(**{field: value(env_name) for field, env_name in fields.items()})
        for key, (cls, fields) in SOURCE_SETTINGS.items()
    }


def warehouse_resource(environment: str) -> Warehouse:
    if environment == "snowflake":
        return SnowflakeWarehouse(
            snowflake=SnowflakeResource(
                account=EnvVar("SNOWFLAKE_ACCOUNT"),
                user=EnvVar("SNOWFLAKE_USER"),
                password=EnvVar("SNOWFLAKE_PASSWORD"),
                database=EnvVar("SNOWFLAKE_DATABASE"),
                warehouse=EnvVar("SNOWFLAKE_WAREHOUSE"),
                role=EnvVar("SNOWFLAKE_ROLE"),
            )
        )
    return DuckDBWarehouse(path=str(settings.warehouse_path()))


def resources_for(environment: str) -> dict[str, ConfigurableResource]:
    """Every resource the definitions need, for `local` or `snowflake`."""
    return {"warehouse": warehouse_resource(environment), **source_resources()}
