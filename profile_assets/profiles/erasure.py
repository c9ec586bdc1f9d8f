"""Erasure (GDPR art. 17 / CCPA deletion) of one person, found by email address.

    email -> canonical key -> the person's records (staging) -> their profiles (identity)
          -> every record of those profiles -> delete everywhere -> suppress -> audit

Deleted, in one warehouse transaction:
- by record key: the raw person rows (`raw.<source>` by `_source_id`), their activity
  (`LINKED_ACTIVITY`: tickets, orders, carts, web days naming those records, raw and staging),
  `staging.contacts`, identity links;
- by profile id: identity map and events, golden profiles, profile history, and every table of
  the `ml` and `serving` schemas that has a `profile_id` column;
- by value, in every text column of every table (a sweep, for copies nobody declared, such as
  quarantined payloads in `ops.rejected_records`): rows whose value is one of the person's
  email addresses or phone numbers, or holds one as a quoted JSON string. Names are not
  swept: a namesake is another person.

Kept: salted hashes of the person's email keys and record keys in `ops.suppressions` (see
suppression.py), so the next extract cannot re-create the profile, and one `ops.audit_log`
row per erased profile (profile ids and counts, no personal values).

Caveat: the Dagster job receives the address as run config, which Dagster's run storage
keeps; use the CLI (`profile-assets erase --email`) when that matters.
"""

import getpass
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
from dagster import Config, OpExecutionContext, job, op

from profile_assets.identity.assets import IDENTITY_MAP, MATCH_LINKS, RESOLUTION_EVENTS
from profile_assets.profiles.audit import AUDIT_TABLE, audit_rows
from profile_assets.profiles.history import HISTORY_TABLE
from profile_assets.profiles.suppression import (
    SUPPRESSIONS_TABLE,
    canonical_email_keys,
    contact_keys,
    hash_keys,
    record_keys,
)
from profile_assets.settings import WAREHOUSE_SCHEMAS
from profile_assets.staging.transforms import PERSON_SOURCES
from profile_assets.staging.unified_schema import load_source
from profile_assets.warehouse import Warehouse, WarehouseConnection

CONTACTS = "staging.contacts"
GOLDEN = "profiles.golden_profiles"
#: Activity tables whose rows name a person record: (table, id column, the record's source;
#: a column name instead of a source means the row says which source it refers to).
LINKED_ACTIVITY = (
    ("raw.support_tickets", "requester_id", "support_users"),
    ("raw.storefront_orders", "customer_id", "storefront_customers"),
    ("raw.storefront_carts", "customer_id", "storefront_customers"),
    ("raw.web_user_days", "user_id", "storefront_customers"),
    ("raw.file_orders", "contact_ref", "file_contacts"),
    ("staging.tickets", "requester_record_id", "support_users"),
    ("staging.carts", "customer_record_id", "storefront_customers"),
    ("staging.web_activity", "customer_record_id", "storefront_customers"),
    ("staging.orders", "customer_record_id", "column:customer_source"),
)
#: Schemas whose tables are erased by profile id wherever they have one.
PROFILE_SCHEMAS = ("ml", "serving")
#: Never swept: they hold only hashes, ids and counts, and must survive the erasure.
KEPT_TABLES = frozenset({SUPPRESSIONS_TABLE, AUDIT_TABLE})
_IDS = "ops._erasure_ids"


@dataclass
class ErasureReport:
    """What an erasure did; holds no personal values (safe to print and log)."""

    #: The hash of the requested address; `suppressions` counts every key suppressed (the
    #: person's other addresses too).
    suppression_hash: str
    suppressions: int = 0
    profile_ids: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    rows_deleted: dict[str, int] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return bool(self.records)

    def summary(self) -> str:
        total = sum(self.rows_deleted.values())
        return (
            f"erased {len(self.profile_ids)} profile(s), {len(self.records)} source record(s), "
            f"{total} row(s) in {len(self.rows_deleted)} table(s); suppression "
            f"{self.suppression_hash[:12]}..."
        )


# --------------------------------------------------------------------------- pure parts
def person_records(
    email_key: str, contacts: pd.DataFrame, identity_map: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str]]:
    """(source, source_record_id) of every record of the person, and their profile ids: the
    records carrying the key, plus every record of the profiles those belong to."""
    carries_key = (contact_keys(contacts) == email_key).to_numpy()
    own = contacts.loc[carries_key, ["source", "source_record_id"]]
    if identity_map is None or identity_map.empty:
        return own.drop_duplicates().reset_index(drop=True), []
    keyed = identity_map.merge(own, on=["source", "source_record_id"])
    profiles = sorted(set(keyed["profile_id"]))
    members = identity_map.loc[
        identity_map["profile_id"].isin(profiles), ["source", "source_record_id"]
    ]
    records = pd.concat([own, members]).drop_duplicates().reset_index(drop=True)
    return records, profiles


def sweep_values(email: str, contacts: pd.DataFrame, raw_rows: list[pd.DataFrame]) -> set[str]:
    """The person's addresses and phone numbers as stored anywhere (normalized and raw),
    lower-cased for case-insensitive matching."""
    values = {email.strip()}
    for column in ("email", "phone"):
        values |= set(contacts[column].dropna().astype(str))
    for frame in raw_rows:
        values |= set(frame.stack().dropna().astype(str)) if len(frame) else set()
    # No valid address or number holds a backslash; dialects disagree on its escaping.
    return {v.strip().lower() for v in values if len(v.strip()) >= 6 and "\\" not in v}


# --------------------------------------------------------------------------- warehouse work
def erase(
    conn: WarehouseConnection,
    email: str,
    *,
    run_id: str,
    tags: Mapping[str, str],
    salt: str | None = None,
) -> ErasureReport:
    """Erase the person owning `email` from every table and suppress them (one transaction)."""
    key = canonical_email_keys(pd.Series([email])).iloc[0]
    if key is None or key != key:
        raise ValueError("erase: not an email address")
    report = ErasureReport(suppression_hash=str(hash_keys(pd.Series([key]), salt).iloc[0]))
    contacts = _read(conn, CONTACTS)
    contacts = _empty_contacts() if contacts is None else contacts
    records, profiles = person_records(key, contacts, _read(conn, IDENTITY_MAP))
    report.profile_ids = profiles
    report.records = [
        f"{s}:{r}" for s, r in zip(records["source"], records["source_record_id"], strict=True)
    ]
    mine = contacts.merge(records, on=["source", "source_record_id"])
    raw_identifiers = [_raw_identifiers(conn, source, records) for source in PERSON_SOURCES]
    values = sweep_values(email, mine, raw_identifiers)
    with conn.transaction():
        before = _row_counts(conn)
        _delete_by_records(conn, records)
        _delete_by_profiles(conn, profiles)
        _sweep(conn, values)
        after = _row_counts(conn)
        report.suppressions = _suppress(conn, _person_keys(key, mine, records), salt, run_id)
        _audit(conn, report, run_id=run_id, tags=tags)
    report.rows_deleted = {t: n - after.get(t, 0) for t, n in before.items() if n > after.get(t, 0)}
    _remove_from_serving(report)
    return report


def _remove_from_serving(report: ErasureReport) -> None:
    """Serving hook: the live snapshot (a file outside the warehouse) drops the person now,
    not at the next refresh."""
    from profile_assets.serving.snapshot import remove_profiles

    removed = remove_profiles(report.profile_ids)
    if removed:
        report.rows_deleted["serving.snapshot"] = removed


def _read(conn: WarehouseConnection, table: str) -> pd.DataFrame | None:
    return conn.query_df(f"SELECT * FROM {table}") if conn.table_exists(table) else None


def _empty_contacts() -> pd.DataFrame:
    return pd.DataFrame(columns=["source", "source_record_id", "email", "email_key", "phone"])


def _raw_identifiers(conn: WarehouseConnection, source: str, records: pd.DataFrame) -> pd.DataFrame:
    """The raw email and phone values of the person's rows in `raw.<source>`."""
    table = f"raw.{source}"
    ids = records.loc[records["source"] == source, "source_record_id"]
    if ids.empty or not conn.table_exists(table):
        return pd.DataFrame()
    mapping = load_source(source).canonical_names
    columns = [c for c, canonical in mapping.items() if canonical in ("email", "phone")]
    present = [c for c in columns if c in conn.columns(table)]
    if not present:
        return pd.DataFrame()
    _stage_ids(conn, ids)
    quoted = ", ".join(f'"{c}"' for c in present)
    return conn.query_df(
        f"SELECT {quoted} FROM {table} WHERE CAST(_source_id AS VARCHAR) IN "
        f"(SELECT record_id FROM {_IDS})"
    )


def _stage_ids(conn: WarehouseConnection, ids: pd.Series) -> None:
    """Put `ids` into a scratch table, so deletes are one set-based statement per table."""
    frame = pd.DataFrame({"record_id": pd.Series(ids.astype(str).unique(), dtype="string")})
    conn.write_df(frame, _IDS, mode="replace")


def _delete_by_records(conn: WarehouseConnection, records: pd.DataFrame) -> None:
    for source in PERSON_SOURCES:
        ids = records.loc[records["source"] == source, "source_record_id"]
        if ids.empty:
            continue
        _stage_ids(conn, ids)
        _delete_where_in(conn, f"raw.{source}", "_source_id")
        _delete_where_in(conn, CONTACTS, "source_record_id", f"source = '{source}'")
        for side in ("left", "right"):
            _delete_where_in(conn, MATCH_LINKS, f"{side}_record_id", f"{side}_source = '{source}'")
        for table, column, owner in LINKED_ACTIVITY:
            if owner.startswith("column:"):
                _delete_where_in(conn, table, column, f"{owner[7:]} = '{source}'")
            elif owner == source:
                _delete_where_in(conn, table, column)
    conn.execute(f"DROP TABLE IF EXISTS {_IDS}")


def _delete_by_profiles(conn: WarehouseConnection, profiles: list[str]) -> None:
    if not profiles:
        return
    _stage_ids(conn, pd.Series(profiles))
    tables = [IDENTITY_MAP, RESOLUTION_EVENTS, GOLDEN, HISTORY_TABLE]
    tables += [t for t in _tables(conn, PROFILE_SCHEMAS) if "profile_id" in _lower(conn.columns(t))]
    for table in tables:
        _delete_where_in(conn, table, "profile_id")
    if conn.table_exists(RESOLUTION_EVENTS):
        named = " OR ".join(f"contains(related_profile_ids, {_quote(p)})" for p in profiles)
        conn.execute(f"DELETE FROM {RESOLUTION_EVENTS} WHERE {named}")
    conn.execute(f"DROP TABLE IF EXISTS {_IDS}")


def _delete_where_in(
    conn: WarehouseConnection, table: str, column: str, condition: str | None = None
) -> None:
    if not conn.table_exists(table) or column not in _lower(conn.columns(table)):
        return
    extra = f" AND {condition}" if condition else ""
    conn.execute(
        f'DELETE FROM {table} WHERE CAST("{column}" AS VARCHAR) IN '
        f"(SELECT record_id FROM {_IDS}){extra}"
    )


def _sweep(conn: WarehouseConnection, values: set[str]) -> None:
    """Delete rows where a text column is one of `values` (case-insensitive) or holds one as
    a quoted JSON string (quarantined payloads): one statement per table. Whole values, not
    substrings: "ana@x.com" must not take "hana@x.com" with it."""
    if not values:
        return
    by_table: dict[str, list[str]] = {}
    for table, column in _text_columns(conn):
        if table not in KEPT_TABLES:
            by_table.setdefault(table, []).append(column)
    literals = [(_quote(v), _quote('"' + v + '"')) for v in sorted(values)]
    for table, columns in by_table.items():
        tests = [
            f'lower(trim("{c}")) = {whole} OR contains(lower("{c}"), {quoted})'
            for c in columns
            for whole, quoted in literals
        ]
        conn.execute(f"DELETE FROM {table} WHERE {' OR '.join(tests)}")


def _quote(value: str) -> str:
    """A SQL string literal (literals, not bound parameters: DuckDB and Snowflake bind
    differently). Callers pass no backslashes, which the two dialects read differently."""
    return "'" + value.replace("'", "''") + "'"


def _text_columns(conn: WarehouseConnection) -> list[tuple[str, str]]:
    df = conn.query_df(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE upper(data_type) IN ('VARCHAR', 'TEXT', 'JSON') "
        "AND table_schema NOT IN ('information_schema', 'pg_catalog')"
    )
    return [
        (f"{s.lower()}.{t.lower()}", c.lower())
        for s, t, c in zip(df["table_schema"], df["table_name"], df["column_name"], strict=True)
        if not t.startswith("_")
    ]


def _tables(conn: WarehouseConnection, schemas: tuple[str, ...]) -> list[str]:
    wanted = ", ".join(f"'{s}'" for s in schemas)
    df = conn.query_df(
        "SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE lower(table_schema) IN ({wanted})"
    )
    return [
        f"{s.lower()}.{t.lower()}"
        for s, t in zip(df["table_schema"], df["table_name"], strict=True)
    ]


def _lower(columns: list[str]) -> list[str]:
    return [c.lower() for c in columns]


def _row_counts(conn: WarehouseConnection) -> dict[str, int]:
    tables = _tables(conn, WAREHOUSE_SCHEMAS)
    return {t: conn.row_count(t) for t in tables if not t.split(".")[1].startswith("_")}


def _person_keys(key: str, contacts: pd.DataFrame, records: pd.DataFrame) -> list[str]:
    """The requested key, every other email key of the person's contacts (any of their
    addresses would otherwise bring a part of the profile back) and their record keys (for
    records without an address)."""
    emails = contact_keys(contacts).dropna() if len(contacts) else pd.Series(dtype=object)
    return sorted({key, *emails, *record_keys(records)})


def _suppress(conn: WarehouseConnection, keys: list[str], salt: str | None, run_id: str) -> int:
    rows = pd.DataFrame(
        {
            "suppression_hash": hash_keys(pd.Series(keys, dtype=object), salt).to_numpy(),
            "reason": "erasure",
            "run_id": run_id,
            "created_at": pd.Timestamp.now(tz="UTC"),
        }
    )
    return conn.merge_df(rows, SUPPRESSIONS_TABLE, ["suppression_hash"])


def _audit(
    conn: WarehouseConnection, report: ErasureReport, *, run_id: str, tags: Mapping[str, str]
) -> None:
    details = json.dumps(
        {"records": len(report.records), "suppression_hash": report.suppression_hash}
    )
    changes = pd.DataFrame(
        {
            "profile_id": report.profile_ids or [""],
            "action": "erased",
            "changed_fields": "all",
            "sources": ",".join(sorted({r.split(":")[0] for r in report.records})),
            "details": details,
        }
    )
    rows = audit_rows(
        changes, run_id=run_id, tags=tags, asset="erasure", at=pd.Timestamp.now(tz="UTC")
    )
    conn.merge_df(rows, AUDIT_TABLE, ["audit_id"])


# --------------------------------------------------------------------------- entry points
class ErasureConfig(Config):
    email: str


@op(description="Erase one person (by email) from every table and suppress re-creation.")
def erase_person_op(
    context: OpExecutionContext, config: ErasureConfig, warehouse: Warehouse
) -> None:
    with warehouse.connection() as conn:
        report = erase(conn, config.email, run_id=context.run_id, tags=context.run.tags)
    context.log.info(report.summary())
    if not report.found:
        context.log.warning("no record carries this address; suppression recorded anyway")


@job(name="erase_person", description="GDPR/CCPA erasure of one person by email (config).")
def erase_person_job() -> None:
    erase_person_op()


def erase_person(email: str, *, warehouse: Warehouse | None = None) -> ErasureReport:
    """`profile-assets erase --email X`: erase with the environment's warehouse."""
    if warehouse is None:
        from profile_assets import settings
        from profile_assets.resources import warehouse_resource

        warehouse = warehouse_resource(settings.environment())
    run_id = f"cli-{uuid.uuid4()}"
    with warehouse.connection() as conn:
        return erase(conn, email, run_id=run_id, tags={"user": getpass.getuser()})
