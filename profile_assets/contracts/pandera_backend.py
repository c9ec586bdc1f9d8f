"""Building Pandera `DataFrameSchema`s for the staging tables from the unified schema.

The contract (`schema`) says what a field is; this backend turns it into Pandera columns and
checks, pandera-style: the API users write is separate from the engine that runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine

from profile_assets.contracts.schema import SCHEMAS_DIR, FieldSpec, load_unified

# Pandera built-in checks the YAML may name; arguments: mapping -> kwargs, else one positional.
_BUILTIN_CHECKS = frozenset(
    {"eq", "ne", "gt", "ge", "lt", "le", "in_range", "isin", "notin", "str_matches",
     "str_contains", "str_startswith", "str_endswith", "str_length"}
)  # fmt: skip


def _not_in_future(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series <= pd.Timestamp.now(tz="UTC")
    return pd.to_datetime(series, errors="coerce") <= pd.Timestamp.now().normalize()


def is_utc_timestamp(series: pd.Series) -> bool:
    # Not a pandera dtype: ours must accept any resolution (ns from pandas, us from Parquet/
    # DuckDB), and pandera's coercion would silently read naive local times as UTC.
    return isinstance(series.dtype, pd.DatetimeTZDtype) and str(series.dtype.tz) == "UTC"


_CUSTOM_CHECKS: dict[str, Callable[[], pa.Check]] = {
    "not_in_future": lambda: pa.Check(_not_in_future, name="not_in_future"),
}

# canonical type -> (pandera dtype, coerce)
_PANDERA_TYPES: dict[str, tuple[Any, bool]] = {
    "string": (str, False),
    "integer": ("Int64", True),
    "float": ("float64", True),
    "boolean": ("boolean", True),
    "date": (pandas_engine.Date, True),
    "datetime": (None, False),
}


def _checks(spec: FieldSpec) -> list[pa.Check]:
    checks = []
    if spec.type == "datetime":
        checks.append(pa.Check(is_utc_timestamp, name="utc_timestamp"))
    for name, arg in spec.checks.items():
        if name in _CUSTOM_CHECKS:
            checks.append(_CUSTOM_CHECKS[name]())
        elif name in _BUILTIN_CHECKS:
            builtin = getattr(pa.Check, name)
            checks.append(builtin(**arg) if isinstance(arg, dict) else builtin(arg))
        else:
            raise ValueError(f"field {spec.name!r}: unknown check {name!r}")
    return checks


def _column(spec: FieldSpec) -> pa.Column:
    if spec.type not in _PANDERA_TYPES:
        raise ValueError(f"field {spec.name!r}: unknown type {spec.type!r}")
    dtype, coerce = _PANDERA_TYPES[spec.type]
    return pa.Column(
        dtype,
        checks=_checks(spec),
        nullable=spec.nullable,
        coerce=coerce,
        description=spec.description or None,
    )


@cache
def build_schema(
    entity: str, version: str | None = None, schemas_dir: Path = SCHEMAS_DIR
) -> pa.DataFrameSchema:
    """The Pandera schema of one staging entity ("person", "order", ...), record fields included.

    Canonical fields are required columns (a staging table always has them, maybe all-null);
    extra columns (match keys, flags, raw values) are allowed, since staging adds them.
    (source, source_id) is unique: a duplicate is a table-level failure.
    """
    unified = load_unified(version, schemas_dir)
    if entity not in unified.entities:
        raise KeyError(f"no entity {entity!r} in unified schema v{unified.version}")
    specs = {**unified.record_fields, **unified.entities[entity].fields}
    return pa.DataFrameSchema(
        {name: _column(spec) for name, spec in specs.items()},
        unique=["source", "source_id"],
        strict=False,
        name=f"{entity} v{unified.version}",
        metadata={"schema_version": unified.version},
    )
