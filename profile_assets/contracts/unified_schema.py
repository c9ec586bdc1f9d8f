"""The unified customer schema and the source mappings, loaded from the YAML files in `schemas/`.

The files are the contract (reviewed, versioned); this module only turns them into objects the
pipeline uses: Pandera `DataFrameSchema`s for the staging tables, a drift detector that checks
a raw extract against its source mapping before it reaches staging, and a column-name matcher
for hand-made files ("E-mail", "First Name", "post code").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml
from pandera.engines import pandas_engine
from rapidfuzz import fuzz

from profile_assets.normalizers import fold_key

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"

# A string/object column still "is" a number, date... if this share of its values parse as one:
# broken records (a few "12,50" amounts) are row-level problems, not a retyped column.
PARSE_SHARE_REQUIRED = 0.8
_SAMPLE_SIZE = 1000
# A missing required column is reported as "renamed" when a new column's name is this similar.
_RENAME_SIMILARITY = 70

# Pandera built-in checks the YAML may name; arguments: mapping -> kwargs, else one positional.
_BUILTIN_CHECKS = frozenset(
    {"eq", "ne", "gt", "ge", "lt", "le", "in_range", "isin", "notin", "str_matches",
     "str_contains", "str_startswith", "str_endswith", "str_length"}
)  # fmt: skip


# --------------------------------------------------------------------------- loaded contracts
@dataclass(frozen=True)
class FieldSpec:
    """One canonical field: its type, nullability, checks and the names people give it."""

    name: str
    type: str
    nullable: bool = True
    checks: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class EntitySpec:
    name: str
    fields: dict[str, FieldSpec]
    description: str = ""


@dataclass(frozen=True)
class UnifiedSchema:
    version: str
    record_fields: dict[str, FieldSpec]
    entities: dict[str, EntitySpec]


@dataclass(frozen=True)
class ColumnSpec:
    """A vendor column as a source mapping declares it."""

    name: str
    type: str
    required: bool = False
    maps_to: str | None = None
    #: The warehouse column type where the contract type alone is too loose (money).
    sql_type: str | None = None


@dataclass(frozen=True)
class SourceTable:
    """One source table's mapping: vendor columns, their canonical names and source defaults."""

    source: str
    table: str
    version: int
    unified_version: str
    default_region: str
    timezone: str
    entity: str | None
    columns: dict[str, ColumnSpec]
    loose_column_names: bool = False

    @property
    def schema_version(self) -> str:
        """How errors and metadata name the contract: mapping version + unified version."""
        return f"{self.source} mapping v{self.version}, unified schema v{self.unified_version}"

    @property
    def canonical_names(self) -> dict[str, str]:
        """Vendor column -> canonical field, for the columns that map to one."""
        return {c.name: c.maps_to for c in self.columns.values() if c.maps_to}


def _field(name: str, raw: dict[str, Any]) -> FieldSpec:
    return FieldSpec(
        name=name,
        type=raw["type"],
        nullable=raw.get("nullable", True),
        checks=dict(raw.get("checks") or {}),
        aliases=tuple(raw.get("aliases") or ()),
        description=raw.get("description", ""),
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@cache
def load_unified(version: str | None = None, schemas_dir: Path = SCHEMAS_DIR) -> UnifiedSchema:
    """Load `schemas/unified/v<major>.yaml`; `version` "1.0" or "1" picks major 1, None the newest.

    A file holds one major version; its `version` must be at least the requested minor, since
    minor bumps only add nullable fields or loosen checks.
    """
    files = {int(p.stem[1:]): p for p in (schemas_dir / "unified").glob("v*.yaml")}
    major = max(files) if version is None else int(str(version).split(".")[0])
    if major not in files:
        raise FileNotFoundError(f"no unified schema v{major} in {schemas_dir / 'unified'}")
    raw = _read_yaml(files[major])
    found = str(raw["version"])
    if version is not None and _version_tuple(found) < _version_tuple(str(version)):
        raise ValueError(f"unified schema is v{found}, older than the requested v{version}")
    return UnifiedSchema(
        version=found,
        record_fields={n: _field(n, f) for n, f in raw["record_fields"].items()},
        entities={
            name: EntitySpec(
                name=name,
                fields={n: _field(n, f) for n, f in ent["fields"].items()},
                description=ent.get("description", ""),
            )
            for name, ent in raw["entities"].items()
        },
    )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@cache
def _source_tables(schemas_dir: Path) -> dict[str, SourceTable]:
    tables: dict[str, SourceTable] = {}
    for path in sorted((schemas_dir / "sources").glob("*.yaml")):
        raw = _read_yaml(path)
        for table, spec in raw["tables"].items():
            if table in tables:
                raise ValueError(f"table {table!r} is mapped twice ({path.name})")
            tables[table] = SourceTable(
                source=raw["source"],
                table=table,
                version=int(raw["version"]),
                unified_version=str(raw["unified_version"]),
                default_region=raw["default_region"],
                timezone=raw["timezone"],
                entity=spec.get("entity"),
                columns={
                    str(n): ColumnSpec(
                        name=str(n),
                        type=c["type"],
                        required=c.get("required", False),
                        maps_to=c.get("maps_to"),
                        sql_type=c.get("sql_type"),
                    )
                    for n, c in spec["columns"].items()
                },
                loose_column_names=raw.get("loose_column_names", False),
            )
    return tables


def load_source(table: str, schemas_dir: Path = SCHEMAS_DIR) -> SourceTable:
    """The mapping of one source table (a `world.tables` / raw table name, e.g. "crm_contacts")."""
    tables = _source_tables(schemas_dir)
    if table not in tables:
        raise KeyError(f"no source mapping for table {table!r}; known: {sorted(tables)}")
    return tables[table]


def source_tables(schemas_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Every source table that has a mapping in `schemas/sources/`."""
    return sorted(_source_tables(schemas_dir))


# --------------------------------------------------------------------------- pandera schemas
def _not_in_future(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series <= pd.Timestamp.now(tz="UTC")
    return pd.to_datetime(series, errors="coerce") <= pd.Timestamp.now().normalize()


def _is_utc_timestamp(series: pd.Series) -> bool:
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
        checks.append(pa.Check(_is_utc_timestamp, name="utc_timestamp"))
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


# --------------------------------------------------------------------------- column names
@cache
def _alias_index(entity: str, schemas_dir: Path) -> dict[str, str]:
    index: dict[str, str] = {}
    for spec in load_unified(None, schemas_dir).entities[entity].fields.values():
        for alias in (spec.name, *spec.aliases):
            key = fold_key(alias)
            if index.setdefault(key, spec.name) != spec.name:
                raise ValueError(f"alias {alias!r} names both {index[key]!r} and {spec.name!r}")
    return index


def match_columns(
    columns: Iterable[str], entity: str = "person", schemas_dir: Path = SCHEMAS_DIR
) -> dict[str, str]:
    """Map the columns that name a canonical field of `entity` to it: {column: canonical}.

    Columns that match nothing are left out. Two columns naming the same field raise
    ValueError: guessing which one holds the data would silently drop the other.
    """
    index = _alias_index(entity, schemas_dir)
    matched: dict[str, str] = {}
    for column in columns:
        canonical = index.get(fold_key(column))
        if canonical is None:
            continue
        clash = next((c for c, f in matched.items() if f == canonical), None)
        if clash is not None:
            raise ValueError(f"columns {clash!r} and {column!r} both name {canonical!r}")
        matched[column] = canonical
    return matched


# --------------------------------------------------------------------------- drift
@dataclass(frozen=True)
class DriftProblem:
    """One incompatible difference between an extract and its source mapping."""

    source: str
    field: str
    kind: str  # "missing" | "renamed" | "retyped"
    expected: str
    found: str
    schema_version: str
    renamed_to: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}.{self.field}"
        if self.kind == "renamed":
            what = f"missing, probably renamed to {self.renamed_to!r}"
        elif self.kind == "missing":
            what = "required column missing"
        else:
            what = "retyped"
        return (
            f"{where}: {what} (expected type {self.expected}, found {self.found}; "
            f"{self.schema_version})"
        )


class SchemaDriftError(Exception):
    """An extract no longer fits its source mapping; staging must not read it."""

    def __init__(self, problems: list[DriftProblem]):
        self.problems = problems
        self.source = problems[0].source
        self.schema_version = problems[0].schema_version
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"schema drift in source table {self.source!r}:\n{lines}")


@dataclass(frozen=True)
class DriftReport:
    """What an extract looks like against its mapping when nothing is incompatible."""

    source: str
    schema_version: str
    column_map: dict[str, str]  # extract column -> declared vendor column
    added: list[str]  # columns the mapping does not know: kept, reported
    missing_optional: list[str]  # declared, not required, absent

    def to_metadata(self) -> dict[str, Any]:
        """Plain values for Dagster asset/check metadata."""
        return {
            "schema_version": self.schema_version,
            "added_columns": self.added,
            "missing_optional_columns": self.missing_optional,
        }


def _value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):  # pd.Timestamp included; before date: it is one
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, list | tuple) or hasattr(value, "__array__"):
        return "list"
    return type(value).__name__


def _sample(series: pd.Series) -> pd.Series:
    """Up to _SAMPLE_SIZE non-null values, looking at the head first: a 1M-row extract is
    judged in milliseconds, and a sparse column still finds its values."""
    values = series.iloc[: _SAMPLE_SIZE * 20].dropna()
    return (values if len(values) >= _SAMPLE_SIZE else series.dropna()).head(_SAMPLE_SIZE)


def _found_kind(series: pd.Series) -> str:
    """The type of a column as drift errors report it: from the dtype, or the values if object."""
    values = _sample(series)
    if values.empty:
        return "empty"
    kind = series.dtype.kind
    by_dtype = {"b": "boolean", "i": "integer", "u": "integer", "f": "float", "M": "datetime"}
    if kind in by_dtype:
        return by_dtype[kind]
    kinds = sorted(set(values.map(_value_kind)))
    return kinds[0] if len(kinds) == 1 else f"mixed({'|'.join(kinds)})"


_ACCEPTS = {
    "id": {"string", "integer"},
    "string": {"string"},
    "integer": {"integer"},
    "float": {"integer", "float"},
    "boolean": {"boolean"},
    "datetime": {"datetime"},
    "date": {"date", "datetime"},
    "list": {"list"},
}


def _parses_as(values: pd.Series, expected: str) -> pd.Series:
    """Which string values read as `expected` (vectorized over the sample)."""
    text = values.astype(str).str.strip()
    if expected in ("integer", "float"):
        numbers = pd.to_numeric(text, errors="coerce")
        return numbers.notna() & ((numbers % 1 == 0) if expected == "integer" else True)
    if expected in ("datetime", "date"):
        return pd.to_datetime(text, errors="coerce", format="mixed", utc=True).notna()
    if expected == "boolean":
        return text.str.lower().isin({"true", "false", "t", "f", "yes", "no", "0", "1"})
    if expected == "list":  # warehouses without an array type keep lists as JSON text
        return text.str.startswith("[") & text.str.endswith("]")
    return pd.Series(expected == "id", index=values.index)


def _fit_share(series: pd.Series, expected: str) -> float:
    """Share of sampled values that fit `expected`, directly or by parsing a string."""
    values = _sample(series)
    if series.dtype.kind == "f" and expected in ("id", "integer"):
        return float((values % 1 == 0).mean())  # ints with nulls arrive as floats
    if series.dtype.kind in "biufM":
        return 1.0 if _found_kind(series) in _ACCEPTS[expected] else 0.0
    kinds = values.map(_value_kind)
    fits = kinds.isin(_ACCEPTS[expected]).to_numpy(dtype=bool)
    strings = (kinds == "string").to_numpy(dtype=bool)
    if expected != "string" and strings.any():
        fits[strings] = _parses_as(values[strings], expected).to_numpy(dtype=bool)
    return float(fits.mean())


def _resolve_columns(spec: SourceTable, columns: list[str]) -> dict[str, str]:
    if not spec.loose_column_names:
        return {c: c for c in columns if c in spec.columns}
    declared = {fold_key(name): name for name in spec.columns}
    return {c: declared[fold_key(c)] for c in columns if fold_key(c) in declared}


def _rename_candidate(df: pd.DataFrame, col: ColumnSpec, added: list[str]) -> str | None:
    """The new column that most likely is `col` renamed: a similar name, values of its type."""
    scored = sorted(
        ((fuzz.WRatio(fold_key(col.name), fold_key(a)), a) for a in added), reverse=True
    )
    for score, candidate in scored:
        if score < _RENAME_SIMILARITY:
            break
        if _fit_share(df[candidate], col.type) >= PARSE_SHARE_REQUIRED:
            return candidate
    return None


def detect_drift(source: str, df: pd.DataFrame, schemas_dir: Path = SCHEMAS_DIR) -> DriftReport:
    """Check an extract of source table `source` against its mapping before staging reads it.

    Raises SchemaDriftError listing every incompatible change: a required column missing (or
    renamed: a new column with a similar name), or any declared column whose values no longer
    fit its type (fewer than PARSE_SHARE_REQUIRED of them). New columns and missing optional
    columns are returned in the report, not raised: they cannot corrupt what staging reads.
    """
    spec = load_source(source, schemas_dir)
    columns = [str(c) for c in df.columns]
    column_map = _resolve_columns(spec, columns)
    added = [c for c in columns if c not in column_map]
    present = set(column_map.values())
    problems: list[DriftProblem] = []
    missing_optional: list[str] = []
    for name, col in spec.columns.items():
        if name not in present:
            if not col.required:
                missing_optional.append(name)
                continue
            renamed_to = _rename_candidate(df, col, added)
            found = _found_kind(df[renamed_to]) if renamed_to else "no such column"
            kind = "renamed" if renamed_to else "missing"
            problems.append(
                DriftProblem(source, name, kind, col.type, found, spec.schema_version, renamed_to)
            )
    for column, name in column_map.items():
        expected = spec.columns[name].type
        found = _found_kind(df[column])
        share = 1.0 if found == "empty" else _fit_share(df[column], expected)
        if share >= PARSE_SHARE_REQUIRED:
            continue
        if share > 0:
            found = f"{found} ({share:.0%} read as {expected})"
        problems.append(DriftProblem(source, name, "retyped", expected, found, spec.schema_version))
    if problems:
        raise SchemaDriftError(problems)
    return DriftReport(source, spec.schema_version, column_map, added, missing_optional)


def to_unified_columns(
    source: str, df: pd.DataFrame, schemas_dir: Path = SCHEMAS_DIR
) -> tuple[pd.DataFrame, DriftReport]:
    """Drift-check an extract, then rename its mapped vendor columns to canonical names.

    Unmapped columns (vendor extras such as `lastmodifieddate`, and additive new ones) keep
    their names so staging can still read them.
    """
    report = detect_drift(source, df, schemas_dir)
    canonical = load_source(source, schemas_dir).canonical_names
    renames = {c: canonical[v] for c, v in report.column_map.items() if v in canonical}
    return df.rename(columns=renames), report
