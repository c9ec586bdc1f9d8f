"""The replicated storefront tables, read from their contract in `schemas/sources/storefront.yaml`.

The mapping names each table (`storefront_<name>`: the raw table and the world's name alike),
its columns in Postgres order with the key first, and their contract types; the warehouse
column types follow from those (`sql_type` where the contract type is too loose, as for money).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from profile_assets.contracts.schema import load_source, source_tables

SOURCE = "storefront"
_PREFIX = "storefront_"
_WAREHOUSE_TYPES = {
    "id": "BIGINT",
    "integer": "INTEGER",
    "string": "VARCHAR",
    "date": "DATE",
    "datetime": "TIMESTAMP",  # store-local wall time; staging converts with the mapping's zone
    "float": "DOUBLE",
}


@dataclass(frozen=True)
class ReplicatedTable:
    """One Postgres table as CDC sees it: its name and typed warehouse columns, key first."""

    name: str
    columns: tuple[tuple[str, str], ...]  # (column, warehouse type)

    @property
    def key(self) -> str:
        return self.columns[0][0]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def raw_table(self) -> str:
        return f"raw.{_PREFIX}{self.name}"


@cache
def replicated_tables() -> tuple[ReplicatedTable, ...]:
    """Every table the storefront mapping declares, in the mapping's order."""
    tables = []
    for mapped in source_tables():
        spec = load_source(mapped)
        if spec.source != SOURCE:
            continue
        columns = tuple(
            (c.name, c.sql_type or _WAREHOUSE_TYPES[c.type]) for c in spec.columns.values()
        )
        tables.append(ReplicatedTable(name=mapped.removeprefix(_PREFIX), columns=columns))
    return tuple(tables)


def by_name(name: str) -> ReplicatedTable:
    return {t.name: t for t in replicated_tables()}[name]
