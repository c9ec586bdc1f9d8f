"""The warehouse layer: one connection interface, its dialects, and the unit of work.

Every other layer talks to a `WarehouseConnection`; SQL dialect differences and transactions
live in this package alone.
"""

from profile_assets.warehouse.connection import (
    DuckDBConnection,
    DuckDBWarehouse,
    SnowflakeConnection,
    SnowflakeWarehouse,
    Warehouse,
    WarehouseConnection,
)

__all__ = [
    "DuckDBConnection",
    "DuckDBWarehouse",
    "SnowflakeConnection",
    "SnowflakeWarehouse",
    "Warehouse",
    "WarehouseConnection",
]
