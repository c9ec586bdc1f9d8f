"""Profile assets (group `profiles`, schema `profiles`): golden profiles and their history.

- `profiles.golden_profiles`: one row per person (see golden.py), rebuilt incrementally;
- `profiles.profile_history`: SCD2 versions of every changed profile (see history.py), and
  one `ops.audit_log` row per profile written (created, updated, deleted) naming the run and
  what triggered it.

Both are thin: read the warehouse, call the pure module, write, report.
"""

import pandas as pd
import pandera.pandas as pa
from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from profile_assets.contracts.asset_checks import pandera_table_check
from profile_assets.enrichment.assets import ENRICHMENT_KEY
from profile_assets.enrichment.cache import CACHE_TABLE as ENRICHMENT_TABLE
from profile_assets.features.derived import Activity
from profile_assets.identity.assets import IDENTITY_MAP, IDENTITY_MAP_KEY, read_live_contacts
from profile_assets.identity.assets import read_table as read_optional
from profile_assets.privacy.preview import preview_markdown
from profile_assets.profiles import history as scd2
from profile_assets.profiles.audit import AUDIT_TABLE, audit_rows
from profile_assets.profiles.golden import build_golden, empty_activity, golden_columns
from profile_assets.profiles.survivorship import RULES_PATH, SurvivorshipRules, load_rules
from profile_assets.staging.tables import CARTS, ORDERS, TICKETS, WEB_ACTIVITY
from profile_assets.warehouse import UnitOfWork, Warehouse, WarehouseConnection

GROUP = "profiles"
GOLDEN_TABLE = "profiles.golden_profiles"
GOLDEN_KEY = AssetKey(["profiles", "golden_profiles"])
HISTORY_KEY = AssetKey(["profiles", "profile_history"])
PREVIEW_ROWS = 5


class RulesConfig(Config):
    rules_path: str = Field(default=str(RULES_PATH), description="Survivorship rules YAML.")


class GoldenConfig(RulesConfig):
    full_rebuild: bool = Field(default=False, description="Recompute every profile.")
    as_of: str = Field(
        default="", description="ISO time the derived fields are computed at (empty: now)."
    )


def read_activity(conn: WarehouseConnection) -> Activity:
    """The staging activity tables, empty where staging has not built one yet."""
    empty = empty_activity()

    def table(spec, fallback: pd.DataFrame) -> pd.DataFrame:
        frame = read_optional(conn, spec.table)
        return fallback if frame is None else frame

    return Activity(
        orders=table(ORDERS, empty.orders),
        web_activity=table(WEB_ACTIVITY, empty.web_activity),
        tickets=table(TICKETS, empty.tickets),
        carts=table(CARTS, empty.carts),
    )


def _as_of(text: str) -> pd.Timestamp:
    return pd.Timestamp(text or pd.Timestamp.now(tz="UTC")).tz_convert("UTC")


@asset(
    key=GOLDEN_KEY,
    deps=[
        IDENTITY_MAP_KEY,
        ENRICHMENT_KEY,
        *(spec.asset_key for spec in (ORDERS, WEB_ACTIVITY, TICKETS, CARTS)),
    ],
    group_name=GROUP,
    kinds={"pandas"},
    description=(
        "One row per person: survived fields with per-field provenance (source and record), "
        "membership, derived activity fields and third-party enrichment (provenance "
        "`enrichment`)."
    ),
    metadata={"dagster/table_name": GOLDEN_TABLE, "primary_key": "profile_id"},
)
def golden_profiles(
    context: AssetExecutionContext, config: GoldenConfig, warehouse: Warehouse
) -> MaterializeResult:
    rules = load_rules(config.rules_path)
    with warehouse.connection() as conn:
        contacts = read_live_contacts(conn)
        identity_map = conn.query_df(f"SELECT * FROM {IDENTITY_MAP}")
        previous = None if config.full_rebuild else read_optional(conn, GOLDEN_TABLE)
        golden, touched = build_golden(
            contacts, identity_map, rules, read_activity(conn), _as_of(config.as_of), previous,
            enrichment=read_optional(conn, ENRICHMENT_TABLE),
        )  # fmt: skip
        with conn.unit_of_work() as unit:
            unit.replace(golden, GOLDEN_TABLE, exact_columns=True)
    context.log.info(f"{len(touched)} of {len(golden)} profiles rebuilt")
    return MaterializeResult(metadata=_golden_metadata(golden, touched, rules))


def _golden_metadata(golden: pd.DataFrame, touched, rules: SurvivorshipRules) -> dict:
    winners = {
        attribute.name: golden[attribute.provenance_columns[0]].value_counts().to_dict()
        for attribute in rules.attributes
    }
    filled = golden[rules.value_columns].notna().mean().round(4).to_dict() if len(golden) else {}
    preview_columns = ["profile_id", "full_name", "email", "record_count", "sources"]
    return {
        "dagster/row_count": len(golden),
        "profiles_rebuilt": len(touched),
        "multi_record_profiles": int((golden["record_count"] > 1).sum()),
        "survivorship_rules_version": rules.version,
        "winning_source_per_attribute": MetadataValue.json(winners),
        "field_fill_rate": MetadataValue.json(filled),
        "preview": MetadataValue.md(preview_markdown(golden[preview_columns], PREVIEW_ROWS)),
    }


@asset(
    key=HISTORY_KEY,
    deps=[GOLDEN_KEY],
    group_name=GROUP,
    kinds={"pandas"},
    description=(
        "SCD2 history of golden profiles (valid_from, valid_to, is_current, version), one "
        "version per change; every change is also written to ops.audit_log."
    ),
    metadata={"dagster/table_name": scd2.HISTORY_TABLE, "primary_key": "profile_id, version"},
)
def profile_history(
    context: AssetExecutionContext, config: RulesConfig, warehouse: Warehouse
) -> MaterializeResult:
    rules = load_rules(config.rules_path)
    at = pd.Timestamp.now(tz="UTC")
    run_id = context.run.run_id
    with warehouse.connection() as conn:
        snapshot = conn.query_df(f"SELECT * FROM {GOLDEN_TABLE}")
        current = None
        if conn.table_exists(scd2.HISTORY_TABLE):
            current = conn.query_df(f"SELECT * FROM {scd2.HISTORY_TABLE} WHERE is_current")
        change = scd2.scd2_merge(current, snapshot, rules, at=at, run_id=run_id)
        changes = change.changes.assign(
            action=change.changes["change_type"],
            sources=scd2.change_sources(change.changes, snapshot, rules).to_numpy(),
        )
        audit = audit_rows(
            changes, run_id=run_id, tags=context.run.tags, asset=HISTORY_KEY.to_user_string(),
            at=at,
        )  # fmt: skip
        with conn.unit_of_work() as unit:
            close_history_rows(unit, change.closed, at)
            if len(change.new_rows):
                unit.append(change.new_rows, scd2.HISTORY_TABLE)
            if len(audit):
                unit.merge(audit, AUDIT_TABLE, ["audit_id"])
        versions = conn.row_count(scd2.HISTORY_TABLE)
    counts = change.changes["change_type"].value_counts().to_dict()
    return MaterializeResult(
        metadata={
            "dagster/row_count": versions,
            "created": int(counts.get(scd2.CREATED, 0)),
            "updated": int(counts.get(scd2.UPDATED, 0)),
            "deleted": int(counts.get(scd2.DELETED, 0)),
            "audit_rows": len(audit),
        }
    )


def close_history_rows(unit: UnitOfWork, profile_ids, at: pd.Timestamp) -> None:
    """End the current version of `profile_ids` at `at` (one set-based UPDATE)."""
    if not len(profile_ids) or not unit.conn.table_exists(scd2.HISTORY_TABLE):
        return
    closing = unit.stage(pd.DataFrame({"profile_id": pd.Series(list(profile_ids), dtype="string")}))
    unit.execute(
        f"UPDATE {scd2.HISTORY_TABLE} SET is_current = FALSE, "
        f"valid_to = {unit.conn.timestamp_literal(at)} "
        f"WHERE is_current AND profile_id IN (SELECT profile_id FROM {closing})"
    )


PROFILE_ASSETS = [golden_profiles, profile_history]


# --------------------------------------------------------------------------- checks
def golden_schema() -> pa.DataFrameSchema:
    rules = load_rules()
    columns = {c: pa.Column(nullable=True) for c in golden_columns(rules)}
    columns |= {
        "profile_id": pa.Column(str, pa.Check.str_startswith("P"), unique=True),
        "record_count": pa.Column("int64", pa.Check.ge(1)),
        "sources": pa.Column(str),
        "orders_count": pa.Column("int64", pa.Check.ge(0)),
        "total_spend": pa.Column(float, pa.Check.ge(0)),
    }
    provenance = [
        pa.Check(
            lambda df, a=attribute: (
                df[list(a.columns)].isna().all(axis=1) | df[a.provenance_columns[1]].notna()
            ),
            name=f"{attribute.name}_has_provenance",
        )
        for attribute in rules.attributes
    ]
    return pa.DataFrameSchema(columns, checks=provenance, name=GOLDEN_TABLE)


def history_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "profile_id": pa.Column(str),
            "version": pa.Column("int64", pa.Check.ge(1)),
            "valid_from": pa.Column(nullable=False),
            "is_current": pa.Column(bool),
            "change_type": pa.Column(str, pa.Check.isin([scd2.CREATED, scd2.UPDATED])),
        },
        unique=["profile_id", "version"],
        checks=[
            pa.Check(
                lambda df: df["is_current"] == df["valid_to"].isna(),
                name="open_iff_current",
            ),
            pa.Check(
                lambda df: df.groupby("profile_id")["is_current"].transform("sum") <= 1,
                name="at_most_one_current_version",
            ),
        ],
        name=scd2.HISTORY_TABLE,
    )


PROFILE_CHECKS = [
    pandera_table_check(GOLDEN_KEY, GOLDEN_TABLE, golden_schema, blocking=True),
    pandera_table_check(HISTORY_KEY, scd2.HISTORY_TABLE, history_schema, blocking=False),
]
