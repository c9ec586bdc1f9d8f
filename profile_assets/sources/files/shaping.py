"""Shaping parsed rows against the contract: headers matched to the columns
`schemas/sources/files.yaml` declares (case-, spacing- and punctuation-insensitively, and
through the unified schema's aliases), ids required, timestamps and numbers typed; every row
that cannot be loaded becomes a `Rejection` with file and line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import date, datetime

import numpy as np
import pandas as pd

from profile_assets.contracts.columns import match_columns
from profile_assets.normalizers import fold_key, to_utc
from profile_assets.quarantine.rejections import Rejection
from profile_assets.sources.files.kinds import LOAD_COLUMNS, DropKind, raw_name
from profile_assets.sources.files.parsing import ParsedFile, reject
from profile_assets.sources.files.sniffing import UnparseableFile

# Mapping types -> how the raw table stores them. Only timestamps and numbers are typed in
# raw (a value that does not fit is rejected); ids, strings and dates stay text as delivered.
RAW_DTYPES = {
    "id": "string",
    "string": "string",
    "date": "string",
    "list": "string",
    "boolean": "string",
    "datetime": "datetime64[ns, UTC]",
    "float": "float64",
    "integer": "Int64",
}


def column_mapping(columns: Iterable[str], kind: DropKind) -> dict[str, str]:
    """Every delivered column -> its raw name.

    A header equal to a declared column up to case, spacing and punctuation takes that
    column's name; one the unified schema knows by another name ('Surname', 'Zip') takes the
    declared column mapped to the same field; anything else is kept under its own raw name.
    Two headers landing on one name fail the file: guessing would drop one silently.
    """
    columns = list(columns)
    source_mapping = kind.source_mapping
    declared = {fold_key(name): name for name in source_mapping.columns}
    by_field = {field: vendor for vendor, field in source_mapping.canonical_names.items()}
    others = [c for c in columns if fold_key(c) not in declared]
    try:
        fields = match_columns(others, kind.entity)
    except ValueError as error:
        raise UnparseableFile(str(error)) from error
    result: dict[str, str] = {}
    for column in columns:
        vendor = declared.get(fold_key(column)) or by_field.get(fields.get(column, ""))
        target = raw_name(vendor or column)
        clash = next((c for c, t in result.items() if t == target), None)
        if clash is not None:
            raise UnparseableFile(f"columns {clash!r} and {column!r} both name {target!r}")
        result[column] = target
    return result


def shape_rows(
    parsed: ParsedFile, kind: DropKind, name: str
) -> tuple[pd.DataFrame, list[Rejection]]:
    """Records -> a frame of raw-named, typed columns plus `_line`; a row without an id, or
    with a timestamp or number that does not parse, is rejected with its line."""
    columns = [str(c) for c in parsed.rows.columns]
    mapping = column_mapping(columns, kind)
    id_column = kind.raw_id
    if id_column not in mapping.values():
        raise UnparseableFile(f"no {kind.id_column} column among {columns} (any case or spacing)")
    raw = parsed.rows.set_axis([mapping[c] for c in columns], axis=1).reset_index(drop=True)
    types = kind.raw_types()
    shaped = pd.DataFrame(index=raw.index)
    problems = pd.Series("", index=raw.index, dtype=object)
    for column in raw.columns:
        values = _missing_to_none(raw[column])
        declared = types.get(column, "string")
        converted = _converter(RAW_DTYPES[declared], kind.source_mapping.timezone)(values)
        bad = values.notna() & converted.isna()
        problems[bad] += [f"{column}={v!r} is not a {declared}; " for v in values[bad]]
        shaped[column] = converted
    shaped[id_column] = shaped[id_column].str.strip().replace("", pd.NA)
    problems[shaped[id_column].isna()] += f"missing primary key {kind.id_column}; "
    shaped["_line"] = pd.Series(parsed.lines, dtype="int64")
    rejected = (problems != "").to_numpy()
    rejections = [
        reject(problems[i].rstrip("; "), parsed.payload(i), name, parsed.lines[i])
        for i in np.flatnonzero(rejected)
    ]
    return shaped[~rejected].reset_index(drop=True), rejections


def _missing_to_none(values: pd.Series) -> pd.Series:
    """Object values with None for every kind of missing, blank strings included."""
    values = values.astype(object)
    missing = values.isna()
    inferred = pd.api.types.infer_dtype(values, skipna=True)
    if inferred == "string":  # CSV, JSON: the fast path
        missing |= values.str.strip().eq("").fillna(False).astype(bool)
    elif inferred.startswith("mixed"):
        missing |= values.map(lambda v: isinstance(v, str) and not v.strip()).astype(bool)
    return values.mask(missing, None)


def _as_text(value: object) -> object:
    """Any delivered value as text: dates as ISO dates, nested JSON kept as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() and ts.tz is None else ts.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone or post code read as a number must not gain '.0'
    return str(value)


def _to_text(values: pd.Series) -> pd.Series:
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values.astype("string")
    return values.map(_as_text).astype("string")


def _to_number(values: pd.Series) -> pd.Series:
    text = values.map(lambda v: v.strip() if isinstance(v, str) else v)
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _to_integer(values: pd.Series) -> pd.Series:
    number = _to_number(values)
    return number.where(number == number.round()).astype("Int64")


def _converter(dtype: str, timezone: str) -> Callable[[pd.Series], pd.Series]:
    """Values -> `dtype`, missing where a value does not fit. Naive times are wall times in
    `timezone`, read exactly as staging reads them."""
    if dtype == "datetime64[ns, UTC]":
        return lambda values: to_utc(values.astype(object), timezone)
    return {"string": _to_text, "float64": _to_number, "Int64": _to_integer}[dtype]


def empty_table(kind: DropKind) -> pd.DataFrame:
    """The raw table's declared shape with no rows, so downstream reads never miss it."""
    types = {**kind.raw_types(), **{c: t for c, (t, _) in LOAD_COLUMNS.items()}}
    return pd.DataFrame({c: pd.Series(dtype=RAW_DTYPES[t]) for c, t in types.items()})
