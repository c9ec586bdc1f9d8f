"""The two engines behind `WarehouseConnection`: embedded DuckDB and Snowflake."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd

from profile_assets.warehouse.connection import WarehouseConnection
from profile_assets.warehouse.unit_of_work import split_table


class DuckDBConnection(WarehouseConnection):
    dialect = "duckdb"
    timestamp_type = "TIMESTAMPTZ"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def execute(self, sql: str, params: Sequence | None = None) -> None:
        self.con.execute(sql, params)

    def query_df(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params).fetchdf()

    def table_exists(self, table: str) -> bool:
        schema, name = split_table(table)
        return bool(
            self.con.execute(
                "SELECT COUNT(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()[0][0]
        )

    def columns(self, table: str) -> list[str]:
        schema, name = split_table(table)
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
        return [r[0] for r in rows]

    def create_table_from_frame(self, df: pd.DataFrame, table: str) -> None:
        self.con.register("_frame", df)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _frame")
        finally:
            self.con.unregister("_frame")


class SnowflakeConnection(WarehouseConnection):
    """Snowflake through its Python connector; identifiers are unquoted (upper-cased) and
    result columns are lower-cased back so assets see the same names as on DuckDB."""

    dialect = "snowflake"
    timestamp_type = "TIMESTAMP_TZ"

    def __init__(self, con):
        self.con = con

    def execute(self, sql: str, params: Sequence | None = None) -> None:
        with self.con.cursor() as cur:
            cur.execute(sql.replace('"', ""), params)

    def query_df(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        with self.con.cursor() as cur:
            cur.execute(sql.replace('"', ""), params)
            df = cur.fetch_pandas_all()
        df.columns = [c.lower() for c in df.columns]
        return df

    def table_exists(self, table: str) -> bool:
        schema, name = split_table(table)
        return bool(
            self.scalar(
                "SELECT COUNT(*) FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name = %s",
                [schema.upper(), name.upper()],
            )
        )

    def columns(self, table: str) -> list[str]:
        schema, name = split_table(table)
        df = self.query_df(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            [schema.upper(), name.upper()],
        )
        return [c.lower() for c in df["column_name"]]

    def create_table_from_frame(self, df: pd.DataFrame, table: str) -> None:
        from snowflake.connector.pandas_tools import write_pandas

        schema, name = split_table(table)
        frame = df.copy()
        frame.columns = [c.upper() for c in frame.columns]
        self.execute(f"DROP TABLE IF EXISTS {table}")
        write_pandas(
            self.con,
            frame,
            name.upper(),
            schema=schema.upper(),
            auto_create_table=True,
            quote_identifiers=False,
            use_logical_type=True,
        )
