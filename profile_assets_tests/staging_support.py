"""Raw tables shaped like the loaders write them, built from a sandbox world, for staging tests.

Each loader's conventions are reproduced, not its code (that needs running vendor APIs):
- REST (HubSpot, Zendesk, GA4): vendor columns, UTC timestamps, association lists as JSON
  array strings, HubSpot properties (amount) as text, GA4 rows unique per dimension values;
- CDC (storefront Postgres): store-local naive timestamps (America/New_York) and `_lsn`;
- file drops: the partner's headers, times as delivered.
"""

from __future__ import annotations

import json
from functools import cache

import pandas as pd

from profile_assets.quarantine.rejections import with_load_metadata
from profile_assets.warehouse import WarehouseConnection

STORE_TIMEZONE = "America/New_York"
WORLD_PEOPLE = 2000
_ID_COLUMNS = {"file_contacts": "contact_ref", "file_orders": "order_ref"}


def _web_ids(df: pd.DataFrame) -> pd.Series:
    return (
        df["date"].astype(str) + "|" + df["client_id"].astype(str) + "|"
        + df["user_id"].fillna("").astype(str)
    )  # fmt: skip


def _naive_local(df: pd.DataFrame, tz: str) -> pd.DataFrame:
    out = df.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert(tz).dt.tz_localize(None)
    return out


def raw_frame(name: str, df: pd.DataFrame, *, extracted_at: pd.Timestamp) -> pd.DataFrame:
    """One world table as its loader would have stored it in `raw.<name>`."""
    df = df.reset_index(drop=True)
    source = name
    if name.startswith("crm_"):
        df = df.astype({"id": "string"})
        if "contact_ids" in df:
            df["contact_ids"] = df["contact_ids"].map(lambda ids: json.dumps([str(i) for i in ids]))
            df["amount"] = df["amount"].map(lambda v: None if v is None else str(v))
    if name.startswith("storefront_"):
        df = _naive_local(df, STORE_TIMEZONE)
        if "status" in df:
            df["status"] = df["status"].astype(object)
        source = "storefront"
    if name == "web_user_days":  # a GA4 report has one row per distinct dimension values
        dimensions = ["date", "user_id", "client_id"]
        df = df.groupby(dimensions, dropna=False, sort=False).sum().reset_index()
    ids = _web_ids(df) if name == "web_user_days" else df[_ID_COLUMNS.get(name, "id")]
    out = with_load_metadata(
        df, source=source, source_id=ids, run_id="seed", extracted_at=extracted_at
    )
    if name.startswith("storefront_"):
        out["_lsn"] = pd.Series(range(1, len(out) + 1), dtype="int64")
    return out


def raw_tables(world) -> dict[str, pd.DataFrame]:
    return {
        name: raw_frame(name, df, extracted_at=world.as_of) for name, df in world.tables.items()
    }


def seed_raw(conn: WarehouseConnection, world) -> dict[str, int]:
    """Write every raw table of `world` into the warehouse (replacing what was there), one
    table at a time so a large world is not held twice; returns rows per table."""
    counts = {}
    for name, table in world.tables.items():
        frame = raw_frame(name, table, extracted_at=world.as_of)
        conn.write_df(frame, f"raw.{name}", mode="replace")
        counts[name] = len(frame)
    return counts


@cache
def staging_world():
    """One small seeded world per test session (never mutate it)."""
    from profile_assets.sandbox.world import generate_world

    return generate_world(WORLD_PEOPLE)


@cache
def _world_raw_tables() -> dict[str, pd.DataFrame]:
    return raw_tables(staging_world())


def world_raw_tables() -> dict[str, pd.DataFrame]:
    """The session world's raw tables (copies: tests may change them)."""
    return {name: frame.copy() for name, frame in _world_raw_tables().items()}
