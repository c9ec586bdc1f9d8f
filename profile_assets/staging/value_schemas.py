"""Row-level Pandera schemas of the staging tables (what the warn-only value checks run).

Canonical columns take their type and checks from the unified schema through the contracts'
Pandera backend; staging's own columns (match keys, flags) are declared here.
"""

import pandera.pandas as pa

from profile_assets.contracts.pandera_backend import build_schema, is_utc_timestamp
from profile_assets.staging.contacts import PERSON_SOURCES
from profile_assets.staging.orders import ORDER_CUSTOMER_SOURCE, ORDER_SOURCES
from profile_assets.staging.tables import StagingTable

# Which unified entity each staging table instantiates (its canonical columns' checks).
_ENTITY = {
    "contacts": "person",
    "orders": "order",
    "web_activity": "web_activity",
    "tickets": "ticket",
    "carts": "cart",
}
_E164 = r"^\+[1-9]\d{1,14}$"

_OWN_DTYPES = {
    "string": (None, False),
    "boolean": ("bool", False),
    "integer": ("Int64", True),
    "float": ("float64", True),
    "date": (None, False),
    "timestamp": (None, False),
}
# Contract columns whose unified-field checks do not apply as-is in staging.
_OVERRIDES = {
    # Invalid phones are kept raw (and flagged); E.164 is checked where phone_valid.
    ("contacts", "phone"),
}
_TABLE_CHECKS = {
    "contacts": [
        pa.Check(
            lambda df: ~df["phone_valid"] | df["phone"].astype(str).str.match(_E164),
            name="phone_is_e164_when_valid",
        ),
        pa.Check(lambda df: df["email_key"].isna() | df["email_valid"], name="email_key_if_valid"),
    ],
}
_COLUMN_CHECKS = {
    ("contacts", "source"): [pa.Check.isin(list(PERSON_SOURCES))],
    ("orders", "source"): [pa.Check.isin(list(ORDER_SOURCES))],
    ("orders", "customer_source"): [pa.Check.isin(list(ORDER_CUSTOMER_SOURCE.values()))],
    ("tickets", "satisfaction"): [pa.Check.isin(["good", "bad"])],
    ("web_activity", "page_views"): [pa.Check.ge(0)],
    ("web_activity", "add_to_carts"): [pa.Check.ge(0)],
    ("carts", "items"): [pa.Check.ge(0)],
    ("carts", "cart_value"): [pa.Check.ge(0)],
}


def value_schema(spec: StagingTable) -> pa.DataFrameSchema:
    """Row-level contract of a staging table: canonical columns take their type and checks
    from the unified schema (`schemas/unified/`), staging's own columns are declared here."""
    unified = build_schema(_ENTITY[spec.name])
    columns = {}
    for name, logical in spec.columns.items():
        nullable = name not in spec.required
        if name in unified.columns and (spec.name, name) not in _OVERRIDES:
            column = unified.columns[name]
            columns[name] = pa.Column(
                column.dtype,
                checks=[*column.checks, *_COLUMN_CHECKS.get((spec.name, name), [])],
                nullable=nullable,
                coerce=column.coerce,
                name=name,
            )
            continue
        dtype, coerce = _OWN_DTYPES[logical]
        checks = list(_COLUMN_CHECKS.get((spec.name, name), []))
        if logical == "timestamp":
            checks.append(pa.Check(is_utc_timestamp, name="utc_timestamp"))
        columns[name] = pa.Column(dtype, checks=checks, nullable=nullable, coerce=coerce)
    return pa.DataFrameSchema(
        columns,
        checks=_TABLE_CHECKS.get(spec.name, []),
        strict=False,
        name=f"{spec.table} (unified v{unified.metadata['schema_version']})",
        metadata=unified.metadata,
    )
