"""Schema drift: checking a raw extract against its source mapping before staging reads it.

Problems are data (`DriftProblem`, a kind each), collected lazily into one `SchemaDriftError`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rapidfuzz import fuzz

from profile_assets.contracts.schema import SCHEMAS_DIR, ColumnSpec, SourceTable, load_source
from profile_assets.normalizers import fold_key

# A string/object column still "is" a number, date... if this share of its values parse as one:
# broken records (a few "12,50" amounts) are row-level problems, not a retyped column.
PARSE_SHARE_REQUIRED = 0.8
_SAMPLE_SIZE = 1000
# A missing required column is reported as "renamed" when a new column's name is this similar.
_RENAME_SIMILARITY = 70


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
