"""One small warehouse interface so every asset runs unchanged on DuckDB and Snowflake.

Assets talk to a `WarehouseConnection`: run SQL, read a DataFrame, append or replace a table,
and merge rows idempotently (latest version wins). Dialect differences live here and nowhere
else, in the spirit of splink's one-dialect-class rule.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd
from dagster import ConfigurableResource
from dagster_snowflake import SnowflakeResource
from pydantic import PrivateAttr

from profile_assets.settings import WAREHOUSE_SCHEMAS

WriteMode = Literal["append", "replace"]


def _split(table: str) -> tuple[str, str]:
    schema, _, name = table.partition(".")
    if not name:
        raise ValueError(f"table {table!r} must be qualified as schema.name")
    return schema, name


class WarehouseConnection(ABC):
    """An open connection with the handful of operations the platform needs."""

    dialect: str

    @abstractmethod
    def execute(self, sql: str, params: Sequence | None = None) -> None: ...

    @abstractmethod
    def query_df(self, sql: str, params: Sequence | None = None) -> pd.DataFrame: ...

    @abstractmethod
    def table_exists(self, table: str) -> bool: ...

    @abstractmethod
    def columns(self, table: str) -> list[str]: ...

    @abstractmethod
    def _load_frame(self, df: pd.DataFrame, table: str, *, create: bool) -> None:
        """Append `df` to `table` (creating it from the frame's types when `create`)."""

    @contextmanager
    def transaction(self) -> Iterator[WarehouseConnection]:
        """All-or-nothing: a crash inside leaves the warehouse as it was."""
        self.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def scalar(self, sql: str, params: Sequence | None = None):
        df = self.query_df(sql, params)
        return None if df.empty else df.iat[0, 0]

    def row_count(self, table: str) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM {table}")) if self.table_exists(table) else 0

    def write_df(self, df: pd.DataFrame, table: str, *, mode: WriteMode = "append") -> int:
        """Append or replace; new columns in `df` are added to the table, never dropped."""
        if mode == "replace" and self.table_exists(table):
            self.execute(f"DROP TABLE {table}")
        if self.table_exists(table):
            self._add_missing_columns(df, table)
            self._load_frame(df, table, create=False)
        else:
            self._load_frame(df, table, create=True)
        return len(df)

    def merge_df(
        self,
        df: pd.DataFrame,
        table: str,
        keys: Sequence[str],
        *,
        version_columns: Sequence[str] = (),
    ) -> int:
        """Idempotent upsert on `keys`: the row with the greatest `version_columns` wins.

        Rerunning the same batch changes nothing; an older version never overwrites a newer one.
        Returns the number of rows in the (deduplicated) batch.
        """
        if df.empty:
            return 0
        latest = _latest_per_key(df, keys, version_columns)
        if not self.table_exists(table):
            self.write_df(latest, table)
            return len(latest)
        self._add_missing_columns(latest, table)
        staging = f"{_split(table)[0]}._merge_{_split(table)[1]}"
        self.write_df(latest, staging, mode="replace")
        try:
            self.execute(_merge_sql(table, staging, list(latest.columns), keys, version_columns))
        finally:
            self.execute(f"DROP TABLE IF EXISTS {staging}")
        return len(latest)

    def _add_missing_columns(self, df: pd.DataFrame, table: str) -> None:
        existing = {c.lower() for c in self.columns(table)}
        for column in df.columns:
            if column.lower() not in existing:
                sql_type = self._sql_type(df[column])
                self.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {sql_type}')

    def _sql_type(self, series: pd.Series) -> str:
        if pd.api.types.is_bool_dtype(series):
            return "BOOLEAN"
        if pd.api.types.is_integer_dtype(series):
            return "BIGINT"
        if pd.api.types.is_float_dtype(series):
            return "DOUBLE"
        if pd.api.types.is_datetime64_any_dtype(series):
            return "TIMESTAMP" if self.dialect == "snowflake" else "TIMESTAMPTZ"
        return "VARCHAR"


def _latest_per_key(
    df: pd.DataFrame, keys: Sequence[str], version_columns: Sequence[str]
) -> pd.DataFrame:
    if version_columns:
        df = df.sort_values(list(version_columns), kind="stable")
    return df.drop_duplicates(list(keys), keep="last")


def _merge_sql(
    table: str,
    staging: str,
    columns: list[str],
    keys: Sequence[str],
    version_columns: Sequence[str],
) -> str:
    on = " AND ".join(f'tgt."{k}" = src."{k}"' for k in keys)
    newer = _newer_or_equal(version_columns)
    assignments = ", ".join(f'"{c}" = src."{c}"' for c in columns if c not in keys)
    column_list = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(f'src."{c}"' for c in columns)
    return (
        f"MERGE INTO {table} AS tgt USING {staging} AS src ON {on} "
        f"WHEN MATCHED{newer} THEN UPDATE SET {assignments} "
        f"WHEN NOT MATCHED THEN INSERT ({column_list}) VALUES ({values})"
    )


def _newer_or_equal(version_columns: Sequence[str]) -> str:
    """`AND (src.v1, src.v2) >= (tgt.v1, tgt.v2)` spelled portably (row comparison is not)."""
    if not version_columns:
        return ""
    clauses = []
    for i, column in enumerate(version_columns):
        equal_before = [f'src."{c}" = tgt."{c}"' for c in version_columns[:i]]
        op = ">=" if i == len(version_columns) - 1 else ">"
        clauses.append(" AND ".join([*equal_before, f'src."{column}" {op} tgt."{column}"']))
    return " AND (" + " OR ".join(f"({c})" for c in clauses) + ")"


class DuckDBConnection(WarehouseConnection):
    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def execute(self, sql: str, params: Sequence | None = None) -> None:
        self.con.execute(sql, params)

    def query_df(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params).fetchdf()

    def table_exists(self, table: str) -> bool:
        schema, name = _split(table)
        return bool(
            self.con.execute(
                "SELECT COUNT(*) FROM information_schema.tables "
                "WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()[0][0]
        )

    def columns(self, table: str) -> list[str]:
        schema, name = _split(table)
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, name],
        ).fetchall()
        return [r[0] for r in rows]

    def _load_frame(self, df: pd.DataFrame, table: str, *, create: bool) -> None:
        self.con.register("_frame", df)
        try:
            if create:
                self.con.execute(f"CREATE TABLE {table} AS SELECT * FROM _frame")
            else:
                self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _frame")
        finally:
            self.con.unregister("_frame")


class SnowflakeConnection(WarehouseConnection):
    """Snowflake through its Python connector; identifiers are unquoted (upper-cased) and
    result columns are lower-cased back so assets see the same names as on DuckDB."""

    dialect = "snowflake"

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
        schema, name = _split(table)
        return bool(
            self.scalar(
                "SELECT COUNT(*) FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name = %s",
                [schema.upper(), name.upper()],
            )
        )

    def columns(self, table: str) -> list[str]:
        schema, name = _split(table)
        df = self.query_df(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            [schema.upper(), name.upper()],
        )
        return [c.lower() for c in df["column_name"]]

    def _load_frame(self, df: pd.DataFrame, table: str, *, create: bool) -> None:
        from snowflake.connector.pandas_tools import write_pandas

        schema, name = _split(table)
        frame = df.copy()
        frame.columns = [c.upper() for c in frame.columns]
        write_pandas(
            self.con,
            frame,
            name.upper(),
            schema=schema.upper(),
            auto_create_table=create,
            quote_identifiers=False,
            use_logical_type=True,
        )


class Warehouse(ConfigurableResource, ABC):
    """A resource that hands out `WarehouseConnection`s with the platform's schemas present."""

    @contextmanager
    def connection(self) -> Iterator[WarehouseConnection]:
        with self._open() as conn:
            for schema in WAREHOUSE_SCHEMAS:
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            yield conn

    @abstractmethod
    def _open(self): ...


class DuckDBWarehouse(Warehouse):
    """The embedded default: one DuckDB file. DuckDB allows one writer process at a time,
    so opening retries briefly instead of failing on a lock held by a finishing step."""

    path: str
    open_timeout_seconds: float = 30.0

    _con: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    @contextmanager
    def _open(self) -> Iterator[DuckDBConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = _connect_with_retry(self.path, self.open_timeout_seconds)
        try:
            yield DuckDBConnection(con)
        finally:
            con.close()


def _connect_with_retry(path: str, timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return duckdb.connect(path)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class SnowflakeWarehouse(Warehouse):
    """Snowflake via dagster-snowflake's resource (credentials come from `EnvVar`s)."""

    snowflake: SnowflakeResource

    @contextmanager
    def _open(self) -> Iterator[SnowflakeConnection]:
        with self.snowflake.get_connection() as con:
            yield SnowflakeConnection(con)
