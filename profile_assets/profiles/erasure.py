"""Erasure (GDPR art. 17 / CCPA deletion) of one person, found by email address.

    email -> mailbox key -> the person's records (staging) -> their profiles (identity)
          -> the registry's links, table by table -> delete -> sweep -> suppress -> audit
          -> compact the warehouse file, rewrite archived partner files

Which tables hold a person's data and how their rows link to one is data: the registry in
`schemas/personal_data.yaml` (`contracts/personal_data.py`). Erasure follows its links:
- person records (`record` links): the raw person rows by `_source_id`, staging.contacts,
  identity links, and every activity row naming one of those records (tickets, orders,
  carts, web days, partner orders; deals through their `contact_ids` list);
- through a parent (`parent` links): order items of the erased orders, cart items of the
  erased carts; the parent rows are read before anything is deleted;
- by profile id: identity map and events, golden profiles, history, and every table of the
  `ml` and `serving` schemas;
- by value, in every text column of every table (the safety net, for copies nobody
  declared, such as quarantined payloads in `ops.rejected_records`): rows whose value is one
  of the person's addresses or phone numbers, or holds one as a quoted JSON string. Names are
  not swept: a namesake is another person.

The address may be given in any spelling the platform reads as the same mailbox: case,
gmail dots and "+tags" at every provider (`x+news@miller.net` finds `x@miller.net`).

Kept: salted hashes in `ops.suppressions` of the person's mailbox keys, their record keys and
the record keys of erased parent rows (orders, carts), so no later extract brings them back
(see privacy/suppression.py), and one `ops.audit_log` row per erased profile holding profile
ids and counts, no personal values and no hash of them.

Caveat: the Dagster job receives the address as run config, which Dagster's run storage
keeps; use the CLI (`profile-assets erase --email`) when that matters.
"""

import getpass
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from dagster import Config, OpExecutionContext, job, op

from profile_assets import settings
from profile_assets.contracts.personal_data import Link, Registry, TableEntry, registry
from profile_assets.privacy.suppression import (
    SUPPRESSIONS_TABLE,
    Suppressions,
    address_keys,
    contact_keys,
    hash_keys,
    mailbox_keys,
    record_keys,
    suppression_rows,
)
from profile_assets.profiles.audit import AUDIT_TABLE, audit_rows
from profile_assets.settings import WAREHOUSE_SCHEMAS
from profile_assets.sources.files.scrub import scrub_drop_area
from profile_assets.warehouse import UnitOfWork, Warehouse, WarehouseConnection

CONTACTS = "staging.contacts"
IDENTITY_MAP = "identity.identity_map"
#: Never swept: they hold only hashes, ids and counts, and must survive the erasure.
KEPT_TABLES = frozenset({SUPPRESSIONS_TABLE, AUDIT_TABLE})
NOT_FOUND = "no profile found, suppression recorded"


@dataclass
class TableOutcome:
    """What erasure found and did in one table."""

    table: str
    #: Rows the registry's links matched (before deleting).
    linked: int = 0
    #: Rows gone after the erasure (links and sweep).
    deleted: int = 0
    how: str = ""

    @property
    def swept(self) -> int:
        return max(self.deleted - self.linked, 0)


@dataclass
class ErasureReport:
    """What an erasure did; holds no personal values (safe to print and log)."""

    #: The hash of the requested mailbox; `suppressions` counts every key suppressed (the
    #: person's other addresses and records too).
    suppression_hash: str
    suppressions: int = 0
    profile_ids: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    tables: dict[str, TableOutcome] = field(default_factory=dict)
    archives_rewritten: int = 0
    archive_rows_removed: int = 0
    compacted: bool = False
    compaction_seconds: float = 0.0

    @property
    def found(self) -> bool:
        return bool(self.records)

    @property
    def rows_deleted(self) -> dict[str, int]:
        return {t: o.deleted for t, o in self.tables.items() if o.deleted}

    def summary(self) -> str:
        if not self.found:
            return f"{NOT_FOUND} ({self.suppression_hash[:12]}...)"
        total = sum(self.rows_deleted.values())
        lines = [
            f"erased {len(self.profile_ids)} profile(s), {len(self.records)} source record(s), "
            f"{total} row(s) in {len(self.rows_deleted)} table(s); {self.suppressions} "
            f"suppression key(s) ({self.suppression_hash[:12]}...)"
        ]
        for name, outcome in sorted(self.tables.items()):
            if outcome.deleted or outcome.linked:
                swept = f", {outcome.swept} by value sweep" if outcome.swept else ""
                lines.append(
                    f"  {name}: {outcome.deleted} row(s) deleted "
                    f"({outcome.linked} via {outcome.how or 'no link'}{swept})"
                )
        if self.archives_rewritten:
            lines.append(
                f"  drop archive: {self.archive_rows_removed} row(s) removed from "
                f"{self.archives_rewritten} file(s)"
            )
        if self.compacted:
            lines.append(f"  warehouse file compacted in {self.compaction_seconds:.1f}s")
        return "\n".join(lines)

    def counts(self) -> dict[str, object]:
        """The report as counts only (the audit entry's details)."""
        return {
            "records": len(self.records),
            "profiles": len(self.profile_ids),
            "suppression_keys": self.suppressions,
            "rows_deleted": self.rows_deleted,
        }


# --------------------------------------------------------------------------- pure parts
def person_records(
    mailbox_key: str, contacts: pd.DataFrame, identity_map: pd.DataFrame | None
) -> tuple[pd.DataFrame, list[str]]:
    """(source, source_record_id) of every record of the person, and their profile ids: the
    records whose address reaches the mailbox, plus every record of their profiles."""
    carries_key = (mailbox_keys(contact_keys(contacts)) == mailbox_key).fillna(False)
    own = contacts.loc[carries_key.to_numpy(dtype=bool), ["source", "source_record_id"]]
    if identity_map is None or identity_map.empty:
        return own.drop_duplicates().reset_index(drop=True), []
    keyed = identity_map.merge(own, on=["source", "source_record_id"])
    profiles = sorted(set(keyed["profile_id"]))
    members = identity_map.loc[
        identity_map["profile_id"].isin(profiles), ["source", "source_record_id"]
    ]
    records = pd.concat([own, members]).drop_duplicates().reset_index(drop=True)
    return records, profiles


def sweep_values(email: str, frames: list[pd.DataFrame]) -> set[str]:
    """The person's addresses and phone numbers as stored anywhere, lower-cased."""
    values = {email.strip()}
    for frame in frames:
        values |= set(frame.stack().dropna().astype(str)) if len(frame) else set()
    # No valid address or number holds a backslash; dialects disagree on its escaping.
    return {v.strip().lower() for v in values if len(v.strip()) >= 6 and "\\" not in v}


@dataclass
class Targets:
    """What the person owns: record ids per source (person records, then the raw rows erasure
    deletes: deals, orders, carts...), parent column values, and profile ids."""

    ids: dict[str, set[str]] = field(default_factory=dict)
    parent_values: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    #: The person's addresses and their match and mailbox keys, lower-cased.
    emails: set[str] = field(default_factory=set)


def predicate(conn: WarehouseConnection, link: Link, targets: Targets) -> str | None:
    """The SQL condition selecting the rows `link` ties to the person (None: none can be)."""
    column = f'CAST("{link.column}" AS VARCHAR)'
    if link.kind == "record" and link.source_column:
        parts = [
            f'("{link.source_column}" = {conn.literal(source)} AND {column} IN '
            f"{conn.in_list(sorted(ids))})"
            for source, ids in sorted(targets.ids.items())
            if ids
        ]
        return " OR ".join(parts) or None
    if link.kind == "record":
        ids = targets.ids.get(link.source or "")
        return f"{column} IN {conn.in_list(sorted(ids))}" if ids else None
    if link.kind == "record_list":
        ids = targets.ids.get(link.source or "")
        if not ids:
            return None
        return " OR ".join(
            f"contains({column}, {conn.literal(json.dumps(i))})" for i in sorted(ids)
        )
    if link.kind == "parent":
        values = targets.parent_values.get((link.parent or "", link.parent_column or ""))
        return f"{column} IN {conn.in_list(sorted(values))}" if values else None
    if link.kind == "email":
        if not targets.emails:
            return None
        return f"lower(trim({column})) IN {conn.in_list(sorted(targets.emails))}"
    if link.kind == "profile":
        return f"{column} IN {conn.in_list(targets.profiles)}" if targets.profiles else None
    if link.kind == "profile_list":
        profiles = targets.profiles
        return " OR ".join(f"contains({column}, {conn.literal(p)})" for p in profiles) or None
    raise ValueError(link.kind)


def table_predicate(
    conn: WarehouseConnection, entry: TableEntry, targets: Targets
) -> tuple[str | None, str]:
    """(condition OR-ing the entry's links whose columns the table has, their description)."""
    columns = {c.lower() for c in conn.columns(entry.table)}
    parts, names = [], []
    for link in entry.links:
        needed = {link.column, *([link.source_column] if link.source_column else [])}
        if not needed <= columns:
            continue
        if (condition := predicate(conn, link, targets)) is not None:
            parts.append(f"({condition})")
            names.append(f"{link.kind}:{link.column}")
    return (" OR ".join(parts) or None), ", ".join(names)


# --------------------------------------------------------------------------- warehouse work
def erase(
    conn: WarehouseConnection,
    email: str,
    *,
    run_id: str,
    tags: Mapping[str, str],
    salt: str | None = None,
    personal_data: Registry | None = None,
) -> ErasureReport:
    """Erase the person owning `email` from every registered table, sweep their values from
    every other one and suppress them: one transaction. Compaction and the drop archive are
    `erase_everywhere`'s, as compaction needs the warehouse closed."""
    reg = personal_data or registry()
    strict, mailbox = (keys.iloc[0] for keys in address_keys(pd.Series([email])))
    if strict is None or strict != strict:
        raise ValueError("erase: not an email address")
    report = ErasureReport(suppression_hash=str(hash_keys(pd.Series([mailbox]), salt).iloc[0]))
    contacts = _read(conn, CONTACTS)
    contacts = _empty_contacts() if contacts is None else contacts
    records, profiles = person_records(mailbox, contacts, _read(conn, IDENTITY_MAP))
    report.profile_ids = profiles
    report.records = [
        f"{s}:{r}" for s, r in zip(records["source"], records["source_record_id"], strict=True)
    ]
    targets = Targets(profiles=profiles)
    for source, ids in records.groupby("source")["source_record_id"]:
        targets.ids[str(source)] = set(ids.astype(str))
    person_rows = _resolve_raw_targets(conn, reg, targets)
    mine = contacts.merge(records, on=["source", "source_record_id"])
    keys = _person_keys(strict, mailbox, mine, records, targets, reg)
    targets.emails = {
        str(v).strip().lower()
        for v in [*mine["email"], *keys]
        if isinstance(v, str) and "@" in v and not v.startswith("record:")
    }
    values = sweep_values(email, [*person_rows, mine[["email", "phone"]]])
    before = _row_counts(conn)
    with conn.unit_of_work() as unit:
        for table in sorted(before):
            entry = reg.entry(table)
            if entry is None or not entry.links:
                continue
            condition, how = table_predicate(conn, entry, targets)
            outcome = report.tables.setdefault(table, TableOutcome(table, how=how))
            if condition is not None:
                outcome.linked = int(conn.scalar(f"SELECT COUNT(*) FROM {table} WHERE {condition}"))
                unit.execute(f"DELETE FROM {table} WHERE {condition}")
        _sweep(unit, values)
        report.suppressions = _suppress(unit, keys, salt, run_id)
        _audit(unit, report, run_id=run_id, tags=tags)
    after = _row_counts(conn)
    for table, count in before.items():
        gone = count - after.get(table, 0)
        if gone > 0:
            report.tables.setdefault(table, TableOutcome(table, how="value sweep")).deleted = gone
    return report


def _resolve_raw_targets(
    conn: WarehouseConnection, reg: Registry, targets: Targets
) -> list[pd.DataFrame]:
    """Fill `targets` with the raw rows the person owns beyond their records (deals, tickets,
    orders, carts...) and the parent values their children link by, reading every parent
    before anything is deleted; returns the person rows' sweep values (addresses, phones)."""
    person_tables = reg.person_tables()
    values = []
    for table, entry in person_tables.items():
        ids = targets.ids.get(entry.source)
        present = [c for c in entry.values if conn.table_exists(table) and c in conn.columns(table)]
        if ids and present:
            quoted = ", ".join(f'"{c}"' for c in present)
            values.append(
                conn.query_df(
                    f"SELECT {quoted} FROM {table} WHERE CAST(_source_id AS VARCHAR) IN "
                    f"{conn.in_list(sorted(ids))}"
                )
            )
    pending = [e for t, e in reg.tables.items() if t.startswith("raw.") and t not in person_tables]
    parents = reg.parents()
    # Parents first: a child's rows are found through the parent rows the person owns.
    pending.sort(key=lambda e: any(link.kind == "parent" for link in e.links))
    for entry in pending:
        if not conn.table_exists(entry.table):
            continue
        condition, _ = table_predicate(conn, entry, targets)
        if condition is None:
            continue
        wanted = {"_source_id"}
        if entry.table in parents:
            wanted |= {
                link.parent_column
                for e in reg.tables.values()
                for link in e.links
                if link.parent == entry.table and link.parent_column
            }
        columns = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in sorted(wanted))
        rows = conn.query_df(f"SELECT {columns} FROM {entry.table} WHERE {condition}")
        targets.ids.setdefault(entry.source, set()).update(rows["_source_id"].dropna())
        for column in wanted - {"_source_id"}:
            bucket = targets.parent_values.setdefault((entry.table, column), set())
            bucket.update(rows[column].dropna())
    return values


def _read(conn: WarehouseConnection, table: str) -> pd.DataFrame | None:
    return conn.query_df(f"SELECT * FROM {table}") if conn.table_exists(table) else None


def _empty_contacts() -> pd.DataFrame:
    return pd.DataFrame(columns=["source", "source_record_id", "email", "email_key", "phone"])


def _sweep(unit: UnitOfWork, values: set[str]) -> None:
    """Delete rows where a text column is one of `values` (case-insensitive) or holds one as
    a quoted JSON string (quarantined payloads): one statement per table. Whole values, not
    substrings: "ana@x.com" must not take "hana@x.com" with it."""
    if not values:
        return
    conn = unit.conn
    by_table: dict[str, list[str]] = {}
    for table, column in _text_columns(conn):
        if table not in KEPT_TABLES:
            by_table.setdefault(table, []).append(column)
    # Callers pass no backslashes, which the two dialects read differently in literals.
    literals = [(conn.literal(v), conn.literal('"' + v + '"')) for v in sorted(values)]
    for table, columns in by_table.items():
        tests = [
            f'lower(trim("{c}")) = {whole} OR contains(lower("{c}"), {quoted})'
            for c in columns
            for whole, quoted in literals
        ]
        unit.execute(f"DELETE FROM {table} WHERE {' OR '.join(tests)}")


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


def warehouse_tables(conn: WarehouseConnection) -> list[str]:
    """Every table of the platform's schemas (scratch tables excluded), lower-cased."""
    wanted = ", ".join(f"'{s}'" for s in WAREHOUSE_SCHEMAS)
    df = conn.query_df(
        "SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE lower(table_schema) IN ({wanted})"
    )
    return sorted(
        f"{s.lower()}.{t.lower()}"
        for s, t in zip(df["table_schema"], df["table_name"], strict=True)
        if not t.startswith("_")
    )


def _row_counts(conn: WarehouseConnection) -> dict[str, int]:
    return {t: conn.row_count(t) for t in warehouse_tables(conn)}


def _person_keys(
    strict: str,
    mailbox: str,
    contacts: pd.DataFrame,
    records: pd.DataFrame,
    targets: Targets,
    reg: Registry,
) -> list[str]:
    """The requested mailbox, every address of the person's contacts (any of them would bring
    part of the profile back), both as match key and as mailbox key; their record keys (for
    records without an address); and the record keys of erased parent rows (an order item
    re-extracted later names only its order)."""
    emails = contact_keys(contacts).dropna() if len(contacts) else pd.Series(dtype=object)
    parents = {reg.tables[p].source for p in reg.parents() if p in reg.tables}
    owned = [
        f"record:{source}:{i}" for source in parents for i in sorted(targets.ids.get(source, ()))
    ]
    return sorted(
        {strict, mailbox, *emails, *mailbox_keys(emails).dropna(), *record_keys(records), *owned}
    )


def _suppress(unit: UnitOfWork, keys: list[str], salt: str | None, run_id: str) -> int:
    rows = suppression_rows(keys, reason="erasure", run_id=run_id, salt=salt)
    return unit.merge(rows, SUPPRESSIONS_TABLE, ["suppression_hash"])


def _audit(
    unit: UnitOfWork,
    report: ErasureReport,
    *,
    run_id: str,
    tags: Mapping[str, str],
) -> None:
    """One row per erased profile: ids and counts (rows linked per table), nothing a person
    could be found by, not even the salted hash of their address."""
    linked = {t: o.linked for t, o in report.tables.items() if o.linked}
    details = json.dumps({"records": len(report.records), "rows_linked": linked})
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
    unit.merge(rows, AUDIT_TABLE, ["audit_id"])


# --------------------------------------------------------------------------- entry points
def erase_everywhere(
    warehouse: Warehouse,
    email: str,
    *,
    run_id: str,
    tags: Mapping[str, str],
    drop_root: Path | None = None,
) -> ErasureReport:
    """Erase in the warehouse, then leave no byte of the person on disk: archived and
    failed-aside partner files under `drop_root` ($PROFILE_ASSETS_HOME/drop) are rewritten
    without any suppressed person's rows, and the warehouse file is compacted (a no-op on
    Snowflake)."""
    with warehouse.connection() as conn:
        report = erase(conn, email, run_id=run_id, tags=tags)
        suppressions = Suppressions.load(conn)
    drop_root = settings.drop_dir() if drop_root is None else drop_root
    report.archives_rewritten, report.archive_rows_removed = scrub_drop_area(
        drop_root, suppressions
    )
    # Always, even when nothing was deleted now: a retry after a failed compaction must
    # still leave no bytes behind (about 0.25 s at the demo's size, see bench/RESULTS.md).
    seconds = warehouse.compact()
    report.compacted = seconds is not None
    report.compaction_seconds = seconds or 0.0
    return report


class ErasureConfig(Config):
    email: str


@op(description="Erase one person (by email) from every table and suppress re-creation.")
def erase_person_op(
    context: OpExecutionContext, config: ErasureConfig, warehouse: Warehouse
) -> None:
    report = erase_everywhere(warehouse, config.email, run_id=context.run_id, tags=context.run.tags)
    context.log.info(report.summary())
    if not report.found:
        context.log.warning(NOT_FOUND)


@job(name="erase_person", description="GDPR/CCPA erasure of one person by email (config).")
def erase_person_job() -> None:
    erase_person_op()


def erase_person(email: str, *, warehouse: Warehouse | None = None) -> ErasureReport:
    """`profile-assets erase --email X`: erase with the environment's warehouse."""
    if warehouse is None:
        from profile_assets.warehouse import warehouse_resource

        warehouse = warehouse_resource(settings.environment())
    run_id = f"cli-{uuid.uuid4()}"
    return erase_everywhere(warehouse, email, run_id=run_id, tags={"user": getpass.getuser()})
