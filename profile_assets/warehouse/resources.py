"""Dagster resources that hand out warehouse connections with the platform's schemas present."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, EnvVar
from dagster_snowflake import SnowflakeResource

from profile_assets import settings
from profile_assets.settings import WAREHOUSE_SCHEMAS
from profile_assets.warehouse.connection import WarehouseConnection
from profile_assets.warehouse.dialects import DuckDBConnection, SnowflakeConnection


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

    def compact(self) -> float | None:
        """Leave no bytes of deleted rows in the warehouse's storage; returns the seconds it
        took, or None where there is nothing to do because the engine owns its storage
        (Snowflake: deleted micro-partitions age out through Time Travel and Fail-safe, a
        retention the account sets)."""
        return None


class DuckDBWarehouse(Warehouse):
    """The embedded default: one DuckDB file. DuckDB allows one writer process at a time,
    so opening retries briefly instead of failing on a lock held by a finishing step."""

    path: str
    open_timeout_seconds: float = 30.0

    @contextmanager
    def _open(self) -> Iterator[DuckDBConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = _connect_with_retry(self.path, self.open_timeout_seconds)
        try:
            yield DuckDBConnection(con)
        finally:
            con.close()

    def compact(self) -> float:
        """CHECKPOINT, then copy the database into a new file and swap it in: DuckDB keeps a
        deleted row's bytes in its blocks until they are reused, and a checkpoint alone does
        not overwrite them (see /work/shared/NOTES.md). Needs the file to itself: no other
        connection may be open (DuckDB's single-writer lock makes others wait or fail)."""
        started = time.monotonic()
        path = Path(self.path)
        fresh = path.with_name(path.name + ".compacting")
        fresh.unlink(missing_ok=True)
        con = _connect_with_retry(self.path, self.open_timeout_seconds)
        try:
            con.execute("CHECKPOINT")
            catalog = con.execute("SELECT current_database()").fetchall()[0][0]
            target = str(fresh).replace("'", "''")
            con.execute(f"ATTACH '{target}' AS _compacted")
            con.execute(f'COPY FROM DATABASE "{catalog}" TO _compacted')
            con.execute("DETACH _compacted")
        except BaseException:
            fresh.unlink(missing_ok=True)
            raise
        finally:
            con.close()
        fresh.replace(path)  # atomic: readers see the old file or the new one
        Path(str(fresh) + ".wal").unlink(missing_ok=True)
        return time.monotonic() - started


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


def warehouse_resource(environment: str) -> Warehouse:
    """Snowflake for `snowflake` (credentials from `SNOWFLAKE_*` variables), else DuckDB."""
    if environment == "snowflake":
        return SnowflakeWarehouse(
            snowflake=SnowflakeResource(
                account=EnvVar("SNOWFLAKE_ACCOUNT"),
                user=EnvVar("SNOWFLAKE_USER"),
                password=EnvVar("SNOWFLAKE_PASSWORD"),
                database=EnvVar("SNOWFLAKE_DATABASE"),
                warehouse=EnvVar("SNOWFLAKE_WAREHOUSE"),
                role=EnvVar("SNOWFLAKE_ROLE"),
            )
        )
    return DuckDBWarehouse(path=str(settings.warehouse_path()))
