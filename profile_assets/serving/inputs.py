"""Reads what a snapshot is built from, out of the warehouse (the only SQL of the layer).

Optional tables are optional on purpose: `ml.scores` appears when the ML layer has scored,
`ops.email_opt_outs` when someone opted out, the cart items when the storefront was loaded.
"""

from __future__ import annotations

import pandas as pd

from profile_assets.identity.assets import IDENTITY_MAP, read_live_contacts, read_table
from profile_assets.privacy.suppression import SUPPRESSIONS_TABLE
from profile_assets.profiles.assets import GOLDEN_TABLE
from profile_assets.quarantine.rejections import DELETE
from profile_assets.serving.consent import OPT_OUTS_TABLE
from profile_assets.serving.record import ServingInputs, empty_cart_lines
from profile_assets.staging.tables import CARTS, ORDERS, WEB_ACTIVITY
from profile_assets.warehouse import WarehouseConnection

SCORES_TABLE = "ml.scores"
CART_ITEMS_TABLE = "raw.storefront_cart_items"


def read_inputs(conn: WarehouseConnection) -> ServingInputs:
    return ServingInputs(
        golden=conn.query_df(f"SELECT * FROM {GOLDEN_TABLE}"),
        identity_map=conn.query_df(
            f"SELECT source, source_record_id, profile_id FROM {IDENTITY_MAP}"
        ),
        contacts=read_live_contacts(conn),
        orders=_table(conn, ORDERS),
        carts=_table(conn, CARTS),
        web_activity=_table(conn, WEB_ACTIVITY),
        cart_lines=_cart_lines(conn),
        scores=read_table(conn, SCORES_TABLE),
        suppressed_hashes=_hashes(conn, SUPPRESSIONS_TABLE, "suppression_hash"),
        opted_out_hashes=_hashes(conn, OPT_OUTS_TABLE, "opt_out_hash"),
    )


def _table(conn: WarehouseConnection, spec) -> pd.DataFrame:
    frame = read_table(conn, spec.table)
    return spec.empty() if frame is None else frame


def _hashes(conn: WarehouseConnection, table: str, column: str) -> frozenset[str]:
    if not conn.table_exists(table):
        return frozenset()
    return frozenset(conn.query_df(f"SELECT {column} FROM {table}")[column].astype(str))


def _cart_lines(conn: WarehouseConnection) -> pd.DataFrame:
    """Live items of open carts (staging keeps only per-cart totals)."""
    if not conn.table_exists(CART_ITEMS_TABLE) or not conn.table_exists(CARTS.table):
        return empty_cart_lines()
    deleted = (
        f"AND coalesce(i._op, '') <> '{DELETE}'" if "_op" in conn.columns(CART_ITEMS_TABLE) else ""
    )
    lines = conn.query_df(
        "SELECT CAST(i.cart_id AS VARCHAR) AS cart_id, CAST(i.sku AS VARCHAR) AS sku, "
        "CAST(i.quantity AS BIGINT) AS quantity, CAST(i.unit_price AS DOUBLE) AS unit_price "
        f"FROM {CART_ITEMS_TABLE} i JOIN {CARTS.table} c ON CAST(i.cart_id AS VARCHAR) = c.cart_id "
        f"WHERE c.status = 'open' {deleted} ORDER BY i.cart_id, i.added_at, i.id"
    )
    return lines
