"""Dagster edges of the REST sources: HubSpot contacts and deals, Zendesk users and tickets,
GA4 per-user-per-day web activity. The logic lives in `profile_assets.sources.rest`.

Why not `dlt.sources.rest_api` + dagster-dlt pipelines: a dlt pipeline loads into its own
destination dataset and keeps incremental state in its own state table, committed by dlt, not
together with our data. Our raw layer needs the cursor and the merged records in ONE warehouse
transaction (so a killed run loses and duplicates nothing), a latest-version-wins merge that
writes tombstones for deletes, a quarantine table for records that cannot be typed, and the
same `Warehouse` abstraction on DuckDB and Snowflake as every other layer. So we keep dlt for
what it does well - `RESTClient`, its paginators, OAuth2/basic/bearer auth, the retrying
session honouring Retry-After - and own the load (see `rest/sync.py`). The gaps dlt leaves
(backoff floor for `Retry-After: 0`, truncated bodies, token refresh mid-pagination, HubSpot's
10,000-result search cap) are closed in `rest/client.py` and `rest/hubspot.py`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Backoff,
    Config,
    DailyPartitionsDefinition,
    Jitter,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    TableColumn,
    TableSchema,
    asset,
)
from pydantic import Field as ConfigField

from profile_assets.privacy.preview import preview_markdown
from profile_assets.quarantine.rejections import LOAD_COLUMNS
from profile_assets.sources.resources import GA4Resource
from profile_assets.sources.rest import connect, hubspot, zendesk
from profile_assets.sources.rest import ga4 as ga4_report
from profile_assets.sources.rest.client import RetrySettings, SourceClient, redacted_errors
from profile_assets.sources.rest.records import Field
from profile_assets.sources.rest.sync import PREVIEW_ROWS, Stream, SyncResult, sync
from profile_assets.warehouse import Warehouse

GROUP = "sources"
RETRY_POLICY = RetryPolicy(
    max_retries=3, delay=10, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)
GA4_PARTITIONS = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/Los_Angeles")

_SQL_TYPES = {
    "str": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "ts": "TIMESTAMPTZ",
    "date": "DATE",
    "list": "VARCHAR (JSON array)",
}


class HttpConfig(Config):
    """HTTP knobs of a REST read (defaults suit the real vendors)."""

    max_attempts: int = ConfigField(default=8, description="Attempts per HTTP request.")
    backoff_factor: float = ConfigField(default=0.5, description="Exponential backoff base (s).")
    min_backoff: float = ConfigField(
        default=0.25, description="Floor of every wait, even after `Retry-After: 0`."
    )
    request_timeout: float = ConfigField(default=60.0, description="Seconds per request.")

    def retry(self) -> RetrySettings:
        return RetrySettings(
            max_attempts=self.max_attempts,
            backoff_factor=self.backoff_factor,
            min_backoff=self.min_backoff,
            timeout=self.request_timeout,
        )


class RestSyncConfig(HttpConfig):
    full_refresh: bool = ConfigField(
        default=False,
        description="Re-read everything and tombstone ids the source no longer returns.",
    )


def column_schema(fields: tuple[Field, ...]) -> TableSchema:
    declared = [TableColumn(f.name, _SQL_TYPES[f.kind], f.description) for f in fields]
    load = [TableColumn(name, type_, text) for name, (type_, text) in LOAD_COLUMNS.items()]
    return TableSchema(columns=[*declared, *load])


def _preview(frame: pd.DataFrame) -> MetadataValue:
    """Keys, versions and ops only: metadata is no place for personal data."""
    if frame.empty:
        return MetadataValue.md("No rows this run.")
    return MetadataValue.md(preview_markdown(frame, rows=len(frame)))


def sync_metadata(result: SyncResult, table_rows: int) -> dict:
    return {
        **result.tally.as_metadata(),
        "cursor_before": result.cursor_before or "(none: full sync)",
        "cursor_after": result.cursor_after or "(none)",
        "tombstoned_by_reconciliation": result.tombstoned,
        "preview": _preview(result.preview),
        "dagster/row_count": table_rows,
    }


@dataclass(frozen=True)
class RestAsset:
    """One raw table fed by one REST stream."""

    name: str
    resource_key: str
    vendor: str
    description: str
    fields: tuple[Field, ...]
    connect: Callable[..., SourceClient]
    stream: Callable[[SourceClient], Stream]


def _stream_asset(spec: RestAsset) -> AssetsDefinition:
    @asset(
        key=AssetKey(["raw", spec.name]),
        group_name=GROUP,
        description=spec.description,
        kinds={spec.vendor, "dlt"},
        metadata={"dagster/column_schema": column_schema(spec.fields)},
        retry_policy=RETRY_POLICY,
        required_resource_keys={"warehouse", spec.resource_key},
    )
    def _sync(context: AssetExecutionContext, config: RestSyncConfig) -> MaterializeResult:
        client = spec.connect(getattr(context.resources, spec.resource_key), config.retry())
        stream = spec.stream(client)
        warehouse: Warehouse = context.resources.warehouse
        with redacted_errors(client.auth), warehouse.connection() as conn:
            result = sync(conn, stream, run_id=context.run_id, full_refresh=config.full_refresh)
            rows = conn.row_count(stream.table)
        context.log.info(f"{stream.name}: {result.tally.as_metadata()}")
        return MaterializeResult(metadata=sync_metadata(result, rows))

    return _sync


_MERGE_NOTE = (
    " Merged on `_source_id`, latest version winning (source modification time, then "
    "extraction order); the cursor is committed with the data, so reruns and killed runs "
    "lose and duplicate nothing. Unloadable records go to ops.rejected_records."
)

REST_STREAM_SPECS = (
    RestAsset(
        name="crm_contacts",
        resource_key="hubspot",
        vendor="hubspot",
        description="HubSpot CRM contacts (incremental by lastmodifieddate via search, sliced "
        "under the 10,000-result cap; archived contacts as `_op='delete'` tombstones)."
        + _MERGE_NOTE,
        fields=hubspot.CONTACTS.fields,
        connect=connect.hubspot,
        stream=lambda client: hubspot.CrmReader(client, hubspot.CONTACTS).stream(),
    ),
    RestAsset(
        name="crm_deals",
        resource_key="hubspot",
        vendor="hubspot",
        description="HubSpot CRM deals with their associated contact ids (incremental by "
        "hs_lastmodifieddate; archived deals as tombstones)." + _MERGE_NOTE,
        fields=hubspot.DEALS.fields,
        connect=connect.hubspot,
        stream=lambda client: hubspot.CrmReader(client, hubspot.DEALS).stream(),
    ),
    RestAsset(
        name="support_users",
        resource_key="zendesk",
        vendor="zendesk",
        description="Zendesk end users from the cursor-based incremental user export "
        "(deleted users, active=false, as tombstones)." + _MERGE_NOTE,
        fields=zendesk.USER_FIELDS,
        connect=connect.zendesk,
        stream=zendesk.users_stream,
    ),
    RestAsset(
        name="support_tickets",
        resource_key="zendesk",
        vendor="zendesk",
        description="Zendesk tickets with their satisfaction rating, from the cursor-based "
        "incremental ticket export (deleted tickets as tombstones)." + _MERGE_NOTE,
        fields=zendesk.TICKET_FIELDS,
        connect=connect.zendesk,
        stream=zendesk.tickets_stream,
    ),
)
crm_contacts, crm_deals, support_users, support_tickets = (
    _stream_asset(spec) for spec in REST_STREAM_SPECS
)


@asset(
    key=AssetKey(["raw", "web_user_days"]),
    group_name=GROUP,
    description="GA4 per-user-per-day web activity (sessions, page views, add-to-carts, "
    "purchases, revenue) by property-local day. Daily partitions; each run replaces its days "
    "in one transaction, so reruns and backfills converge and never duplicate.",
    kinds={"google", "dlt"},
    metadata={"dagster/column_schema": column_schema(ga4_report.FIELDS)},
    retry_policy=RETRY_POLICY,
    partitions_def=GA4_PARTITIONS,
    backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=31),
)
def web_user_days(
    context: AssetExecutionContext, config: HttpConfig, warehouse: Warehouse, ga4: GA4Resource
) -> MaterializeResult:
    window = context.partition_time_window
    first, last = window.start.date(), (window.end - timedelta(days=1)).date()
    client, property_id = connect.ga4(ga4, config.retry())
    with redacted_errors(client.auth), warehouse.connection() as conn:
        tally, rows = ga4_report.load_days(
            conn, client, property_id, first, last, run_id=context.run_id
        )
        table_rows = conn.row_count(ga4_report.TABLE)
    return MaterializeResult(
        metadata={
            **tally.as_metadata(),
            "days": f"{first} .. {last}",
            "preview": _preview(rows[["_source_id", "sessions", "_op"]].tail(PREVIEW_ROWS)),
            "dagster/row_count": table_rows,
        }
    )


REST_STREAM_ASSETS = [crm_contacts, crm_deals, support_users, support_tickets]
REST_ASSETS = [*REST_STREAM_ASSETS, web_user_days]


def full_refresh_config() -> dict:
    """Run config that makes every REST stream asset re-read its source in full."""
    return {
        "ops": {
            f"raw__{spec.name}": {"config": {"full_refresh": True}} for spec in REST_STREAM_SPECS
        }
    }
