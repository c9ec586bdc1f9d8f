"""Resources -> authenticated `SourceClient`s.

Auth choices follow what each vendor offers: HubSpot takes a private-app token as configured,
else OAuth (refresh-token grant when a refresh token is configured, else client credentials,
which the sandbox issues); Zendesk takes API-token basic auth; GA4 OAuth2 client credentials.
OAuth auths refresh on a 401, so a token expiring mid-pagination costs one extra request.
"""

from __future__ import annotations

from profile_assets.sources.resources import GA4Resource, HubSpotResource, ZendeskResource
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


def hubspot(resource: HubSpotResource, retry: RetrySettings) -> SourceClient:
    base = resource.setting("base_url")
    if resource.access_token:  # explicitly configured private-app token
        token = resource.setting("access_token")
        return make_client(base, BearerTokenAuth(token=token), retry)
    client_id = resource.setting("client_id")
    secret = resource.setting("client_secret")
    refresh = resource.setting("refresh_token", required=False)
    token_url = resource.setting("token_url", required=False) or base + HUBSPOT_TOKEN_PATH
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
    base = resource.setting("base_url")
    email = resource.setting("email")
    token = resource.setting("api_token")
    auth = HttpBasicAuth(username=f"{email}/token", password=token)
    return make_client(base, auth, retry)


def ga4(resource: GA4Resource, retry: RetrySettings) -> tuple[SourceClient, str]:
    """The client and the property id to report on."""
    base = resource.setting("base_url")
    client_id = resource.setting("client_id")
    secret = resource.setting("client_secret")
    property_id = resource.setting("property_id")
    auth = RefreshingClientCredentials(
        access_token_url=resource.setting("token_url", required=False) or GOOGLE_TOKEN_URL,
        client_id=client_id,
        client_secret=secret,
    )
    return make_client(base, auth, retry), property_id
