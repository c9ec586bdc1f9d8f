"""Vendor JSON records -> typed rows, or a rejection with a reason.

Each stream declares its columns as `Field`s (where the value sits in the record, what type it
must have). Parsing is vectorised per column: a value that is present but cannot be read as its
type, a record that is not a JSON object, or a record without its primary key is rejected, never
coerced to null and never dropped. Values that are *valid but wrong* (a malformed email, an
amount like "12,50") are kept as strings: judging them is staging's job, not extraction's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from profile_assets.quarantine.rejections import Rejection

Kind = Literal["str", "int", "float", "bool", "ts", "date", "list"]
"""`list` is a list of ids, kept as a JSON array string (portable to every warehouse)."""


@dataclass(frozen=True)
class Field:
    """One output column: `path` into the JSON record, the `kind` it must parse as."""

    name: str
    path: tuple[str, ...]
    kind: Kind = "str"
    description: str = ""

    @classmethod
    def at(cls, name: str, *path: str, kind: Kind = "str", description: str = "") -> Field:
        return cls(name, path or (name,), kind, description)


@dataclass
class Parsed:
    """Rows that parsed (in record order) and the records that did not."""

    rows: pd.DataFrame
    rejections: list[Rejection]


def _column(records: list[dict], path: tuple[str, ...]) -> list[Any]:
    if len(path) == 1:  # the common flat case, without the per-step loop
        return [r.get(path[0]) for r in records]
    return [dig(r, path) for r in records]


def dig(record: dict, path: tuple[str, ...]) -> Any:
    """The value at `path` in a JSON record (None where any step is missing)."""
    value: Any = record
    for step in path:
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return value


def _as_int(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integers, or strings of them (vendors send both); never booleans or fractions."""
    typed = raw.where(raw.map(type).isin([int, str]))
    numbers = pd.to_numeric(typed, errors="coerce")
    whole = numbers.notna() & (numbers == numbers.round())
    values = numbers.where(whole).astype("Int64")
    return values, raw.notna() & values.isna()


def _as_float(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    values = pd.to_numeric(raw.where(~raw.map(lambda v: isinstance(v, bool))), errors="coerce")
    return values.astype("float64"), raw.notna() & values.isna()


def _as_bool(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    mapping = {True: True, False: False, "true": True, "false": False}
    values = raw.map(lambda v: mapping.get(v.lower() if isinstance(v, str) else v))
    return values.astype("boolean"), raw.notna() & values.isna()


def _as_ts(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    text = raw.where(raw.map(lambda v: isinstance(v, str)))
    values = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    return values, raw.notna() & values.isna()


def _as_date(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A calendar day, as YYYYMMDD (GA4) or YYYY-MM-DD."""
    text = raw.where(raw.map(lambda v: isinstance(v, str))).str.replace("-", "", regex=False)
    parsed = pd.to_datetime(text, format="%Y%m%d", errors="coerce")
    values = pd.Series(parsed.dt.date.where(parsed.notna(), None), index=raw.index, dtype=object)
    return values, raw.notna() & parsed.isna()


def _as_str(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    bad = raw.map(lambda v: isinstance(v, dict | list)).astype(bool)
    values = raw.map(str, na_action="ignore").astype("string")
    return values, raw.notna() & bad


def _as_list(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A list of ids, stored as a JSON array string: portable to every warehouse."""
    ok = raw.map(lambda v: isinstance(v, list) and all(isinstance(x, str | int) for x in v))
    values = raw.map(lambda v: json.dumps([str(x) for x in v]) if isinstance(v, list) else None)
    return values.astype("string"), raw.notna() & ~ok.astype(bool)


_CONVERTERS = {
    "int": _as_int,
    "float": _as_float,
    "bool": _as_bool,
    "ts": _as_ts,
    "date": _as_date,
    "str": _as_str,
    "list": _as_list,
}


def parse_records(
    records: Sequence[Any],
    fields: Sequence[Field],
    *,
    key: str,
    source: str,
    required: Sequence[str] = (),
) -> Parsed:
    """Typed rows for `records`; anything unreadable becomes a `Rejection` with its reason.

    `key` (the primary key) and the `required` fields (e.g. the modification time that orders
    versions) must be present; other fields may be null.
    """
    objects = [r for r in records if isinstance(r, dict)]
    rejections = [
        Rejection(source=source, reason="record is not a JSON object", payload=r)
        for r in records
        if not isinstance(r, dict)
    ]
    flat = pd.DataFrame({f.name: pd.Series(_column(objects, f.path), dtype=object) for f in fields})
    problems: list[tuple[str, np.ndarray]] = []  # (reason, rows it applies to)
    columns = {}
    for f in fields:
        values, invalid = _CONVERTERS[f.kind](flat[f.name])
        columns[f.name] = values
        problems.append((f"{f.name}: not a valid {f.kind}", invalid.to_numpy(dtype=bool)))
    rows = pd.DataFrame(columns)
    problems.append(("missing primary key", flat[key].isna().to_numpy()))
    problems += [(f"missing {name}", flat[name].isna().to_numpy()) for name in required]
    bad = np.logical_or.reduce([mask for _, mask in problems]) if objects else np.zeros(0, bool)
    rejections += [
        Rejection(
            source=source,
            reason="; ".join(reason for reason, mask in problems if mask[i]),
            payload=objects[i],
        )
        for i in np.flatnonzero(bad)
    ]
    return Parsed(rows=rows[~bad].reset_index(drop=True), rejections=rejections)
