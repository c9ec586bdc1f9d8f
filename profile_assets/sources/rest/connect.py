"""Resources -> authenticated `SourceClient`s.

Auth choices follow what each vendor offers: HubSpot takes a private-app token as configured,
else OAuth (refresh-token grant when a refresh token is configured, else client credentials,
which the sandbox issues); Zendesk takes API-token basic auth; GA4 OAuth2 client credentials.
OAuth auths refresh on a 401, so a token expiring mid-pagination costs one extra request.
"""

from __future__ import annotations

from profile_assets.resources import GA4Resource, HubSpotResource, ZendeskResource
from profile_assets.sources.rest.client import (
    BearerTokenAuth,
    HttpBasicAuth,
    RefreshingClientCredentials,
    RefreshingRefreshToken,
    RetrySettings,
    SourceClient,
    make_client,
)

HUBSPOT_TOKEN_PATH = "/oauth/v1/token"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"


def _token_url(resource: HubSpotResource | GA4Resource, env_name: str, default: str) -> str:
    """The configured token endpoint, else the vendor's (GA4's lives on another host than
    the Data API)."""
    return resource.setting("token_url", env_name, required=False) or default


def hubspot(resource: HubSpotResource, retry: RetrySettings) -> SourceClient:
    base = resource.setting("base_url", "HUBSPOT_BASE_URL")
    if resource.access_token:  # explicitly configured private-app token
        token = resource.setting("access_token", "HUBSPOT_ACCESS_TOKEN")
        return make_client(base, BearerTokenAuth(token=token), retry)
    client_id = resource.setting("client_id", "HUBSPOT_CLIENT_ID")
    secret = resource.setting("client_secret", "HUBSPOT_CLIENT_SECRET")
    refresh = resource.setting("refresh_token", "HUBSPOT_REFRESH_TOKEN", required=False)
    token_url = _token_url(resource, "HUBSPOT_TOKEN_URL", base + HUBSPOT_TOKEN_PATH)
    if refresh:
        auth = RefreshingRefreshToken(
            access_token_url=token_url,
            client_id=client_id,
            client_secret=secret,
            refresh_token=refresh,
        )
    else:
        auth = RefreshingClientCredentials(
            access_token_url=token_url, client_id=client_id, client_secret=secret
        )
    return make_client(base, auth, retry)


def zendesk(resource: ZendeskResource, retry: RetrySettings) -> SourceClient:
    base = resource.setting("base_url", "ZENDESK_BASE_URL")
    email = resource.setting("email", "ZENDESK_EMAIL")
    token = resource.setting("api_token", "ZENDESK_API_TOKEN")
    auth = HttpBasicAuth(username=f"{email}/token", password=token)
    return make_client(base, auth, retry)


def ga4(resource: GA4Resource, retry: RetrySettings) -> tuple[SourceClient, str]:
    """The client and the property id to report on."""
    base = resource.setting("base_url", "GA4_BASE_URL")
    client_id = resource.setting("client_id", "GA4_CLIENT_ID")
    secret = resource.setting("client_secret", "GA4_CLIENT_SECRET")
    property_id = resource.setting("property_id", "GA4_PROPERTY_ID")
    auth = RefreshingClientCredentials(
        access_token_url=_token_url(resource, "GA4_TOKEN_URL", GOOGLE_TOKEN_URL),
        client_id=client_id,
        client_secret=secret,
    )
    return make_client(base, auth, retry), property_id
