"""The connection interface every layer uses, and the SQL it shares across dialects.

Assets talk to a `WarehouseConnection`: run SQL, read a DataFrame, and write through a
`UnitOfWork` (merge, append, replace, statements) that commits atomically on every dialect.
Dialect differences — quoting, timestamp types, loading frames, catalog lookups — are the
abstract methods below, implemented once per engine in `dialects.py`.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import pandas as pd

from profile_assets.warehouse.unit_of_work import UnitOfWork

WriteMode = Literal["append", "replace"]


class WarehouseConnection(ABC):
    """An open connection with the handful of operations the platform needs."""

    dialect: str
    #: The column type of tz-aware timestamps (UTC instants) in this dialect.
    timestamp_type: str

    @abstractmethod
    def execute(self, sql: str, params: Sequence | None = None) -> None: ...

    @abstractmethod
    def query_df(self, sql: str, params: Sequence | None = None) -> pd.DataFrame: ...

    @abstractmethod
    def table_exists(self, table: str) -> bool: ...

    @abstractmethod
    def columns(self, table: str) -> list[str]: ...

    @abstractmethod
    def create_table_from_frame(self, df: pd.DataFrame, table: str) -> None:
        """(Re)create `table` holding `df`, typed from the frame. DDL: never in a transaction."""

    # --- reads -------------------------------------------------------------------------
    def scalar(self, sql: str, params: Sequence | None = None):
        df = self.query_df(sql, params)
        return None if df.empty else df.iat[0, 0]

    def row_count(self, table: str) -> int:
        return int(self.scalar(f"SELECT COUNT(*) FROM {table}")) if self.table_exists(table) else 0

    def read_table(self, table: str) -> pd.DataFrame | None:
        """The whole table, or None when it does not exist yet."""
        return self.query_df(f"SELECT * FROM {table}") if self.table_exists(table) else None

    # --- SQL literals ------------------------------------------------------------------
    def literal(self, value: object) -> str:
        """A SQL literal for `value` (engines here avoid bind parameters, whose style differs)."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, pd.Timestamp | dt.datetime):
            return self.timestamp_literal(pd.Timestamp(value))
        return "'" + str(value).replace("'", "''") + "'"

    def timestamp_literal(self, at: pd.Timestamp) -> str:
        at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
        return f"CAST('{at.isoformat()}' AS {self.timestamp_type})"

    def in_list(self, values: Sequence[object]) -> str:
        """`(v1, v2, ...)` for an IN predicate; `(NULL)` matches nothing when empty."""
        return "(" + (", ".join(self.literal(v) for v in values) or "NULL") + ")"

    # --- writes ------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[WarehouseConnection]:
        """All-or-nothing DML. Put DDL in a `unit_of_work()`: some engines commit on DDL."""
        self.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """Record writes in the block; they commit together when it ends without an error."""
        unit = UnitOfWork(self)
        yield unit
        unit.commit()

    def write_df(self, df: pd.DataFrame, table: str, *, mode: WriteMode = "append") -> int:
        """Append or replace as a unit of work of its own; new columns are added, never dropped."""
        with self.unit_of_work() as unit:
            return unit.replace(df, table) if mode == "replace" else unit.append(df, table)

    def merge_df(
        self,
        df: pd.DataFrame,
        table: str,
        keys: Sequence[str],
        *,
        version_columns: Sequence[str] = (),
    ) -> int:
        """`UnitOfWork.merge` as a unit of work of its own."""
        with self.unit_of_work() as unit:
            return unit.merge(df, table, keys, version_columns=version_columns)

    def add_missing_columns(self, df: pd.DataFrame, table: str) -> None:
        existing = {c.lower() for c in self.columns(table)}
        for column in df.columns:
            if column.lower() not in existing:
                sql_type = self.sql_type(df[column])
                self.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {sql_type}')

    def sql_type(self, series: pd.Series) -> str:
        if pd.api.types.is_bool_dtype(series):
            return "BOOLEAN"
        if pd.api.types.is_integer_dtype(series):
            return "BIGINT"
        if pd.api.types.is_float_dtype(series):
            return "DOUBLE"
        if pd.api.types.is_datetime64_any_dtype(series):
            return self.timestamp_type
        return "VARCHAR"

    def upsert_sql(
        self,
        table: str,
        source: str,
        columns: list[str],
        keys: Sequence[str],
        version_columns: Sequence[str] = (),
        *,
        strictly_newer: bool = False,
    ) -> list[str]:
        """Upsert `source` (a table or a parenthesized query) into `table` on `keys`.

        Spelled as UPDATE ... FROM plus INSERT ... WHERE NOT EXISTS rather than MERGE: the
        same result on both engines, and plain DML that shares a transaction with any other
        statement (fakesnow, standing in for Snowflake here, cannot do that with MERGE).
        """
        match = " AND ".join(f'tgt."{k}" = src."{k}"' for k in keys)
        newer = _newer(version_columns, strict=strictly_newer)
        assignments = ", ".join(f'"{c}" = src."{c}"' for c in columns if c not in keys)
        names = ", ".join(f'"{c}"' for c in columns)
        update = (
            f"UPDATE {table} AS tgt SET {assignments} FROM {source} AS src WHERE {match}{newer}"
        )
        insert = (
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {source} AS src "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS tgt WHERE {match})"
        )
        return [update, insert] if assignments else [insert]


def _newer(version_columns: Sequence[str], *, strict: bool) -> str:
    """`AND (src.v1, src.v2) >= (tgt.v1, tgt.v2)` spelled portably (row comparison is not)."""
    if not version_columns:
        return ""
    clauses = []
    for i, column in enumerate(version_columns):
        equal_before = [f'src."{c}" = tgt."{c}"' for c in version_columns[:i]]
        last = i == len(version_columns) - 1
        op = ">=" if last and not strict else ">"
        clauses.append(" AND ".join([*equal_before, f'src."{column}" {op} tgt."{column}"']))
    return " AND (" + " OR ".join(f"({c})" for c in clauses) + ")"
