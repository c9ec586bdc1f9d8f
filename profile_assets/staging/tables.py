"""The staging tables' shapes (STAGING_CONTRACT): columns, types, primary keys, in one place.

Transforms type their output with these, assets publish them as column metadata, and checks
build their table-level contracts from them, so the three can never disagree. Types are
logical ("string", "date", ...); `dtypes()` gives the pandas dtypes that every warehouse
reads unambiguously, even for an all-null column.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from dagster import AssetKey, TableColumn, TableSchema

SCHEMA = "staging"

_PANDAS_DTYPES = {
    "string": "string",
    "boolean": "bool",
    "integer": "Int64",
    "float": "float64",
    "date": pd.ArrowDtype(pa.date32()),
    "timestamp": "datetime64[us, UTC]",
}


@dataclass(frozen=True)
class StagingTable:
    name: str
    description: str
    columns: dict[str, str]  # column -> logical type
    primary_key: tuple[str, ...]
    #: Columns that may never be null (primary key columns included unless listed nullable).
    required: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        return f"{SCHEMA}.{self.name}"

    @property
    def asset_key(self) -> AssetKey:
        return AssetKey([SCHEMA, self.name])

    def dtypes(self) -> dict[str, object]:
        return {c: _PANDAS_DTYPES[t] for c, t in self.columns.items()}

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` reduced to this table's columns, in order, with its dtypes."""
        columns = {}
        for name, dtype in self.dtypes().items():
            values = frame[name]
            if values.isna().all():  # all-null columns carry no usable dtype (float NaN)
                values = pd.Series(None, index=frame.index, dtype=object)
            columns[name] = values.astype(dtype)
        return pd.DataFrame(columns, index=frame.index)

    def empty(self) -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(dtype=d) for c, d in self.dtypes().items()})

    def table_schema(self) -> TableSchema:
        return TableSchema(
            columns=[
                TableColumn(
                    name, type_, description="primary key" if name in self.primary_key else None
                )
                for name, type_ in self.columns.items()
            ]
        )


#: The person fields every source maps (staging.contacts) and identity resolution compares.
PERSON_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "date_of_birth",
    "address_line1",
    "address_line2",
    "city",
    "postcode",
    "state",
    "country",
)

_PERSON_COLUMNS = {
    "source": "string",
    "source_record_id": "string",
    "first_name": "string",
    "last_name": "string",
    "full_name": "string",
    "email": "string",
    "email_valid": "boolean",
    "email_key": "string",
    "phone": "string",
    "phone_valid": "boolean",
    "date_of_birth": "date",
    "address_line1": "string",
    "address_line2": "string",
    "city": "string",
    "postcode": "string",
    "state": "string",
    "country": "string",
    "storefront_customer_id": "string",
    "updated_at": "timestamp",
    "created_at": "timestamp",
    "is_deleted": "boolean",
    "schema_version": "string",
}

CONTACTS = StagingTable(
    name="contacts",
    description=(
        "One row per person record of every source (CRM contacts, support users, storefront "
        "customers, partner file contacts): unified, normalized fields plus match keys."
    ),
    columns=_PERSON_COLUMNS,
    primary_key=("source", "source_record_id"),
    required=("source", "source_record_id", "updated_at", "is_deleted", "schema_version"),
)

ORDERS = StagingTable(
    name="orders",
    description=(
        "One row per order of any source (won CRM deals, storefront orders, partner file "
        "orders), amounts >= 0 in ISO currencies, times in UTC."
    ),
    columns={
        "source": "string",
        "order_id": "string",
        "customer_source": "string",
        "customer_record_id": "string",
        "order_ts": "timestamp",
        "amount": "float",
        "currency": "string",
        "status": "string",
        "is_deleted": "boolean",
        "schema_version": "string",
    },
    primary_key=("source", "order_id"),
    required=(
        "source",
        "order_id",
        "customer_source",
        "customer_record_id",
        "order_ts",
        "amount",
        "currency",
        "is_deleted",
    ),
)

WEB_ACTIVITY = StagingTable(
    name="web_activity",
    description=(
        "Web analytics per storefront customer and property-local day; anonymous visitors "
        "are kept as one row per day with a null customer."
    ),
    columns={
        "customer_record_id": "string",
        "activity_date": "date",
        "sessions": "integer",
        "page_views": "integer",
        "add_to_carts": "integer",
        "purchases": "integer",
        "revenue": "float",
        "schema_version": "string",
    },
    primary_key=("customer_record_id", "activity_date"),
    required=("activity_date", "sessions", "page_views", "add_to_carts", "purchases"),
)

TICKETS = StagingTable(
    name="tickets",
    description="One row per support ticket, with its requester and satisfaction rating.",
    columns={
        "source_record_id": "string",
        "requester_record_id": "string",
        "status": "string",
        "created_at": "timestamp",
        "updated_at": "timestamp",
        "satisfaction": "string",
        "is_deleted": "boolean",
        "schema_version": "string",
    },
    primary_key=("source_record_id",),
    required=("source_record_id", "status", "created_at", "updated_at", "is_deleted"),
)

CARTS = StagingTable(
    name="carts",
    description=(
        "One row per live storefront cart: owner, status, item count and value, and the "
        "order it turned into."
    ),
    columns={
        "cart_id": "string",
        "customer_record_id": "string",
        "status": "string",
        "created_at": "timestamp",
        "updated_at": "timestamp",
        "items": "integer",
        "cart_value": "float",
        "converted_order_id": "string",
        "schema_version": "string",
    },
    primary_key=("cart_id",),
    required=("cart_id", "status", "created_at", "updated_at", "items", "cart_value"),
)

STAGING_TABLES: tuple[StagingTable, ...] = (CONTACTS, ORDERS, WEB_ACTIVITY, TICKETS, CARTS)
