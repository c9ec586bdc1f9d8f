"""`enrichment/person_enrichment`: third-party person data for every canonical email, cached.

Only new, expired, queued or failed emails are asked about (see `cache.py`), within a request
budget per run; the per-minute quota is honoured and, once it would hold the run up, the rest
waits for the next run. The asset never fails the pipeline on the vendor's account: an
unconfigured vendor, a refused key or an outage leave the cache as it was, say so in the
metadata and logs, and golden profiles go out without (new) enrichment.
"""

from collections import Counter

import pandas as pd
import pandera.pandas as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
)

from profile_assets.contracts.asset_checks import pandera_table_check
from profile_assets.enrichment.cache import (
    CACHE_TABLE,
    FIELD_COLUMNS,
    answer_rows,
    due_emails,
)
from profile_assets.enrichment.client import (
    ENRICHED,
    FAILED,
    QUEUED,
    UNKNOWN,
    EnrichmentAuthError,
    EnrichmentClient,
    QuotaExhausted,
)
from profile_assets.sources.resources import EnrichmentResource, MissingSettingError
from profile_assets.warehouse import Warehouse, WarehouseConnection

CONTACTS = "staging.contacts"
ENRICHMENT_KEY = AssetKey(["enrichment", "person_enrichment"])


class EnrichmentConfig(Config):
    ttl_days: float = 30.0
    max_requests: int = 1000
    max_wait_seconds: float = 5.0


def wanted_emails(conn: WarehouseConnection) -> pd.DataFrame:
    """One valid address per canonical email key of the live contacts (erased people are
    already absent from staging)."""
    if not conn.table_exists(CONTACTS):
        return pd.DataFrame(columns=["email_key", "email"])
    return conn.query_df(
        f"SELECT email_key, MIN(email) AS email FROM {CONTACTS} "
        "WHERE email_key IS NOT NULL AND email_valid AND NOT is_deleted "
        "GROUP BY email_key ORDER BY email_key"
    )


def ask(client: EnrichmentClient, due: pd.DataFrame, limit: int) -> tuple[list, int]:
    """Answers for up to `limit` due emails; how many were deferred to a later run."""
    answers = []
    try:
        for email_key, email in due.head(limit).itertuples(index=False):
            answers.append((email_key, client.find(email)))
    except QuotaExhausted:
        pass
    return answers, len(due) - len(answers)


@asset(
    key=ENRICHMENT_KEY,
    deps=[AssetKey(["staging", "contacts"])],
    group_name="enrichment",
    kinds={"python", "duckdb"},
    description=(
        "Third-party person enrichment (employment, location, demographics) per canonical "
        "email, cached with a TTL; asked only for new, expired, queued or failed emails."
    ),
    metadata={
        "dagster/table_name": CACHE_TABLE,
        "primary_key": "email_key",
        "dagster/column_schema": TableSchema(
            columns=[
                TableColumn("email_key", "string", "canonical email key (as identity uses)"),
                TableColumn("status", "string", "enriched, queued, unknown or failed"),
                TableColumn("asked_at", "timestamp"),
                TableColumn("expires_at", "timestamp", "asked_at + TTL"),
                TableColumn("detail", "string", "why an answer is not enriched"),
                *[TableColumn(c, "string") for c in FIELD_COLUMNS],
            ]
        ),
    },
)
def person_enrichment(
    context: AssetExecutionContext,
    config: EnrichmentConfig,
    warehouse: Warehouse,
    enrichment: EnrichmentResource,
) -> MaterializeResult:
    now = pd.Timestamp.now(tz="UTC")
    with warehouse.connection() as conn:
        wanted = wanted_emails(conn)
        ttl = pd.Timedelta(days=config.ttl_days)
        due = due_emails(wanted, conn.read_table(CACHE_TABLE), now, ttl)
        answers, deferred, problem = _ask_vendor(enrichment, config, due)
        rows = answer_rows(answers, now, ttl)
        with conn.unit_of_work() as unit:
            if len(rows):
                unit.merge(rows, CACHE_TABLE, ["email_key"])
            elif not conn.table_exists(CACHE_TABLE):
                unit.append(rows, CACHE_TABLE)
        cached = conn.row_count(CACHE_TABLE)
    if problem:
        context.log.error(f"enrichment skipped: {problem}; profiles go out without it")
    counts = Counter(answer.status for _, answer in answers)
    return MaterializeResult(
        metadata={
            "dagster/row_count": cached,
            "emails": len(wanted),
            "asked": len(answers),
            "enriched": counts[ENRICHED],
            "cached": len(wanted) - len(due),
            "queued": counts[QUEUED],
            "unknown": counts[UNKNOWN],
            "failed": counts[FAILED],
            "deferred_to_next_run": deferred,
            "problem": problem or "none",
            "status_counts": MetadataValue.json(dict(counts)),
        }
    )


def _ask_vendor(
    enrichment: EnrichmentResource, config: EnrichmentConfig, due: pd.DataFrame
) -> tuple[list, int, str | None]:
    if due.empty:
        return [], 0, None
    try:
        base_url, api_key = enrichment.setting("base_url"), enrichment.setting("api_key")
    except MissingSettingError as error:
        return [], len(due), f"not configured ({error})"
    with EnrichmentClient(base_url, api_key, max_wait_seconds=config.max_wait_seconds) as client:
        try:
            answers, deferred = ask(client, due, config.max_requests)
        except EnrichmentAuthError as error:
            return [], len(due), str(error)
    return answers, deferred, None


ENRICHMENT_ASSETS = [person_enrichment]


def enrichment_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "email_key": pa.Column(str, unique=True),
            "status": pa.Column(str, pa.Check.isin([ENRICHED, QUEUED, UNKNOWN, FAILED])),
            "asked_at": pa.Column(nullable=False),
            "expires_at": pa.Column(nullable=False),
        },
        name="person_enrichment",
    )


# Not blocking: golden profiles go out without enrichment rather than not at all.
ENRICHMENT_CHECKS = [
    pandera_table_check(ENRICHMENT_KEY, CACHE_TABLE, enrichment_schema, blocking=False)
]
