"""REST sources (HubSpot CRM, Zendesk Support, GA4) read with dlt's HTTP layer into our raw layer.

- `client`: dlt's `RESTClient`, retrying session and auths, extended where they fall short
  (backoff floor for `Retry-After: 0`, truncated bodies, token refresh on 401, redaction).
- `records`: vendor JSON -> typed rows, or rejections with reasons.
- `sync`: the incremental engine: cursor and data committed together, idempotent merge,
  tombstones, full reconciliation; `replace_window` for snapshot sources.
- `hubspot`, `zendesk`, `ga4`: what each vendor's API looks like, as `Stream`s or report pages.
- `connect`: Dagster resources -> authenticated clients.

Why dlt's client layer rather than `dlt.sources.rest_api` pipelines: see
`profile_assets.sources.rest.assets`.
"""
