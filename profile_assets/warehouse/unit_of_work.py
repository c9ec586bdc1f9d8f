"""A unit of work: every write of one logical step commits together, on every dialect.

Snowflake commits implicitly on DDL (CREATE, DROP, ALTER), so "BEGIN; create a staging table;
MERGE; COMMIT" is not one transaction there. A unit of work therefore runs in three phases:

1. stage (DDL only): every frame is written to its own scratch table, target tables are
   created from those and missing columns added — all before anything visible changes;
2. apply (DML only): one transaction runs every merge, append, replace and statement in the
   order they were recorded — data, cursors, LSNs, ledgers and model state together;
3. clean up: the scratch tables are dropped, whatever happened.

A crash before or during phase 2 leaves the targets exactly as they were (a test kills the
work between the phases on DuckDB and on Snowflake via fakesnow). Scratch tables are named
per unit (`_uow_<token>_...`), so concurrent units never share one.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from profile_assets.warehouse.connection import WarehouseConnection

SCRATCH_PREFIX = "_uow_"


def split_table(table: str) -> tuple[str, str]:
    schema, _, name = table.partition(".")
    if not name:
        raise ValueError(f"table {table!r} must be qualified as schema.name")
    return schema, name


def latest_per_key(
    df: pd.DataFrame, keys: Sequence[str], version_columns: Sequence[str]
) -> pd.DataFrame:
    """One row per key: the one with the greatest version (the last one on ties)."""
    if version_columns:
        df = df.sort_values(list(version_columns), kind="stable")
    return df.drop_duplicates(list(keys), keep="last")


@dataclass
class _Write:
    """One recorded write: `kind` is merge, append, replace or sql."""

    kind: str
    table: str | None = None
    frame: pd.DataFrame | None = None
    keys: Sequence[str] = ()
    version_columns: Sequence[str] = ()
    sql: str | None = None
    scratch: str | None = None
    exact_columns: bool = False


@dataclass
class UnitOfWork:
    """Collects writes; `WarehouseConnection.unit_of_work()` applies them atomically on exit.

    Reads go through `conn` as usual and see the warehouse before this unit's writes.
    """

    conn: WarehouseConnection
    _writes: list[_Write] = field(default_factory=list)
    _token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    # --- recording ---------------------------------------------------------------------
    def merge(
        self,
        df: pd.DataFrame,
        table: str,
        keys: Sequence[str],
        *,
        version_columns: Sequence[str] = (),
    ) -> int:
        """Upsert on `keys`, latest `version_columns` winning; returns the deduplicated size.

        Rerunning the same batch changes nothing; an older version never overwrites a newer.
        """
        if df.empty:
            return 0
        latest = latest_per_key(df, keys, version_columns)
        self._writes.append(_Write("merge", table, latest, keys, version_columns))
        return len(latest)

    def append(self, df: pd.DataFrame, table: str) -> int:
        """Insert `df` (the table is created from it when missing, even when `df` is empty)."""
        self._writes.append(_Write("append", table, df))
        return len(df)

    def replace(self, df: pd.DataFrame, table: str, *, exact_columns: bool = False) -> int:
        """The table's rows become exactly `df`'s rows.

        Columns are added, never dropped, unless `exact_columns`: then a table whose columns
        differ from the frame's is recreated in the staging phase (its old rows are replaced
        anyway).
        """
        self._writes.append(_Write("replace", table, df, exact_columns=exact_columns))
        return len(df)

    def stage(self, df: pd.DataFrame) -> str:
        """A scratch table holding `df` for use in `execute` statements of this unit."""
        write = _Write("stage", frame=df)
        self._writes.append(write)
        write.scratch = f"ops.{SCRATCH_PREFIX}{self._token}_{len(self._writes)}"
        return write.scratch

    def execute(self, sql: str) -> None:
        """A DML statement (UPDATE, DELETE, MERGE) applied in order inside the transaction."""
        self._writes.append(_Write("sql", sql=sql))

    def delete_where(self, table: str, predicate: str) -> None:
        """`DELETE FROM table WHERE predicate`, skipped when the table does not exist yet."""
        if self.conn.table_exists(table):
            self.execute(f"DELETE FROM {table} WHERE {predicate}")

    # --- applying ----------------------------------------------------------------------
    def commit(self) -> None:
        """Stage (DDL), then apply (one DML transaction), then drop the scratch tables."""
        try:
            self._stage_frames()
            with self.conn.transaction():
                for write in self._writes:
                    self._apply(write)
        finally:
            for write in self._writes:
                if write.scratch:
                    self.conn.execute(f"DROP TABLE IF EXISTS {write.scratch}")
            self._writes = []

    def _stage_frames(self) -> None:
        for i, write in enumerate(self._writes):
            if write.frame is None:
                continue
            if write.scratch is None:
                schema, name = split_table(write.table)
                write.scratch = f"{schema}.{SCRATCH_PREFIX}{self._token}_{i}_{name}"
            self.conn.create_table_from_frame(write.frame, write.scratch)
            if write.table is None:
                continue
            if self._reshaped(write):
                self.conn.execute(f"DROP TABLE {write.table}")
            if self.conn.table_exists(write.table):
                self.conn.add_missing_columns(write.frame, write.table)
            else:
                self.conn.execute(
                    f"CREATE TABLE {write.table} AS SELECT * FROM {write.scratch} WHERE 1 = 0"
                )

    def _reshaped(self, write: _Write) -> bool:
        return (
            write.exact_columns
            and self.conn.table_exists(write.table)
            and _lower(self.conn.columns(write.table)) != _lower(write.frame.columns)
        )

    def _apply(self, write: _Write) -> None:
        columns = list(write.frame.columns) if write.frame is not None else []
        if write.kind == "sql":
            self.conn.execute(write.sql)
        elif write.kind == "merge":
            for sql in self.conn.upsert_sql(
                write.table, write.scratch, columns, write.keys, write.version_columns
            ):
                self.conn.execute(sql)
        elif write.kind in ("append", "replace"):
            if write.kind == "replace":
                self.conn.execute(f"DELETE FROM {write.table}")
            if len(write.frame):
                names = ", ".join(f'"{c}"' for c in columns)
                self.conn.execute(
                    f"INSERT INTO {write.table} ({names}) SELECT {names} FROM {write.scratch}"
                )


def _lower(columns) -> list[str]:
    return [str(c).lower() for c in columns]
