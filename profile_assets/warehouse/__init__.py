"""The warehouse layer: one connection interface, its dialects, and the unit of work.

Every other layer talks to a `WarehouseConnection` and writes through a `UnitOfWork`; SQL
dialect differences and transactions live in this package alone.
"""

from profile_assets.warehouse.connection import WarehouseConnection
from profile_assets.warehouse.dialects import DuckDBConnection, SnowflakeConnection
from profile_assets.warehouse.resources import (
    DuckDBWarehouse,
    SnowflakeWarehouse,
    Warehouse,
    warehouse_resource,
)
from profile_assets.warehouse.unit_of_work import UnitOfWork

__all__ = [
    "DuckDBConnection",
    "DuckDBWarehouse",
    "SnowflakeConnection",
    "SnowflakeWarehouse",
    "UnitOfWork",
    "Warehouse",
    "WarehouseConnection",
    "warehouse_resource",
]
