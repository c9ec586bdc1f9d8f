"""What every staging table's build shares: reading a raw extract, parsing values, the loop.

One pure function per staging table (see STAGING_CONTRACT) lives in `contacts`, `orders`
and `activity`; each does the same three things, in this order:

1. Drift first: each raw extract is checked against its source mapping in `schemas/sources/`
   (`contracts.columns.to_unified_columns`), which raises `SchemaDriftError` on an incompatible
   change, before a single value is read. Mapped vendor columns come back under their
   canonical names; additive columns are reported, not fatal.
2. Normalize, vectorized (`profile_assets.normalizers`): names, emails (+ match key), phones
   (E.164, with the record's country, else the source's default region), countries,
   postcodes, and every timestamp to UTC from the source's declared time zone.
3. Sort rows into kept and rejected. A row that cannot satisfy its staging table's contract
   (no usable modification time, an amount that is not a non-negative number, a time in the
   future...) becomes a `Rejection` carrying its raw values and every reason, and the rest go
   on. Field-level defects that do not make a row unusable (an invalid email or phone, an
   impossible birth date) are flagged or nulled instead, so one bad field does not hide a
   person.

Inputs are raw tables as read from the warehouse (vendor columns plus `_source_id`, `_op`...,
one row per `_source_id`); outputs are typed with `tables.py`. No I/O here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from profile_assets import normalizers as nz
from profile_assets.contracts.columns import to_unified_columns
from profile_assets.contracts.drift import DriftReport
from profile_assets.contracts.schema import SourceTable, load_source, load_unified
from profile_assets.quarantine.rejections import DELETE, Rejection


def schema_version() -> str:
    """The unified schema version every staging row records."""
    return load_unified().version


@dataclass
class Staged:
    """A staging table's rows, the raw rows it refused (with reasons) and what drift saw."""

    frame: pd.DataFrame
    rejections: list[Rejection] = field(default_factory=list)
    drift: dict[str, DriftReport] = field(default_factory=dict)
    read: int = 0
    #: Rows deliberately not staged, by reason (e.g. open CRM deals are not orders).
    skipped: dict[str, int] = field(default_factory=dict)

    def metadata(self) -> dict[str, object]:
        """Plain values for the asset's MaterializeResult."""
        return {
            "rows": len(self.frame),
            "raw_rows_read": self.read,
            "rejected": len(self.rejections),
            "skipped": dict(self.skipped),
            "added_columns": {s: r.added for s, r in self.drift.items() if r.added},
            "schema_versions": {s: r.schema_version for s, r in self.drift.items()},
        }


# --------------------------------------------------------------------------- shared pieces
@dataclass(frozen=True)
class Extract:
    """One raw table after the drift check: canonical/vendor columns plus bookkeeping."""

    table: str
    spec: SourceTable
    raw: pd.DataFrame  # as read, for rejection payloads
    data: pd.DataFrame  # mapped vendor columns renamed to canonical names
    report: DriftReport

    def column(self, name: str) -> pd.Series:
        """A declared column by its canonical name if mapped, else its vendor name; all-null
        when an optional column is absent from the extract."""
        if name in self.data.columns:
            return self.data[name]
        actual = next((c for c, v in self.report.column_map.items() if v == name), None)
        if actual is not None and actual in self.data.columns:
            return self.data[actual]
        return pd.Series(None, index=self.data.index, dtype=object)

    def utc(self, name: str) -> pd.Series:
        return nz.to_utc(self.column(name), self.spec.timezone)

    @property
    def deleted(self) -> pd.Series:
        if "_op" not in self.raw:
            return pd.Series(False, index=self.raw.index)
        return (self.raw["_op"] == DELETE).fillna(False).astype(bool)

    @property
    def record_ids(self) -> pd.Series:
        return as_ids(self.raw["_source_id"])


def extract(table: str, raw: pd.DataFrame) -> Extract:
    """Drift-check a raw table (bookkeeping columns aside) and map it to canonical names."""
    raw = raw.reset_index(drop=True)
    spec = load_source(table)
    vendor = _decode_lists(raw[[c for c in raw.columns if not str(c).startswith("_")]], spec)
    data, report = to_unified_columns(table, vendor)
    return Extract(table, spec, raw, data, report)


def _decode_lists(vendor: pd.DataFrame, spec: SourceTable) -> pd.DataFrame:
    """List columns come back from warehouses as JSON array text (the REST loader stores them
    so; Snowflake returns ARRAYs so): decode them so drift sees lists, as the mapping says."""
    lists = [c.name for c in spec.columns.values() if c.type == "list" and c.name in vendor]
    if not lists:
        return vendor
    vendor = vendor.copy()
    for name in lists:
        vendor[name] = vendor[name].map(_json_list, na_action="ignore")
    return vendor


def _json_list(value: object) -> object:
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


class Problems:
    """Per-row reasons a row cannot be staged, collected vectorized."""

    def __init__(self, index: pd.Index):
        self.text = pd.Series("", index=index, dtype=object)

    def add(self, mask: pd.Series, reason: str, values: pd.Series | None = None) -> None:
        """Record `reason` for the rows in `mask`, followed by their offending `values`."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        detail = reason if values is None else reason + ": " + values[mask].astype(str)
        self.text[mask] = self.text[mask] + detail + "; "

    @property
    def bad(self) -> pd.Series:
        return self.text != ""

    def rejections(self, ext: Extract, rows: pd.Series | None = None) -> list[Rejection]:
        bad = self.bad if rows is None else self.bad & rows
        payloads = ext.raw.loc[bad].to_dict("records")
        reasons = self.text[bad].str.rstrip("; ")
        return [
            Rejection(source=ext.table, reason=f"staging: {reason}", payload=payload)
            for reason, payload in zip(reasons, payloads, strict=True)
        ]


def as_ids(values: pd.Series) -> pd.Series:
    """Identifiers as text: ints stay ints ("51", not "51.0"), blanks become null."""
    if values.dtype.kind == "f":
        values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def as_text(values: pd.Series) -> pd.Series:
    """Free text (addresses, cities, states): NFKC, whitespace collapsed, blanks null."""
    text = nz.clean_text(values)
    return text.astype(object).where(text.notna(), None)


def as_dates(values: pd.Series, *, day_first: bool = False) -> pd.Series:
    """Dates from date objects, timestamps, ISO strings, GA4's YYYYMMDD or d/m/y (m/d/y
    unless `day_first`); else NaT."""
    if values.dtype.kind == "M" or isinstance(values.dtype, pd.DatetimeTZDtype):
        stamps = pd.to_datetime(values)
        return stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps
    text = values.astype("string").str.strip()
    compact = text.str.fullmatch(r"\d{8}").fillna(False).astype(bool)
    out = pd.to_datetime(text.where(~compact), errors="coerce", format="ISO8601")
    out[compact] = pd.to_datetime(text[compact], errors="coerce", format="%Y%m%d")
    numeric = out.isna() & text.str.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}").fillna(False)
    if numeric.any():
        parts = text[numeric].str.split(r"[/.-]", regex=True, expand=True)
        day, month = (parts[0], parts[1]) if day_first else (parts[1], parts[0])
        iso = parts[2] + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
        out[numeric] = pd.to_datetime(iso, errors="coerce", format="%Y-%m-%d")
    return out.astype("datetime64[ns]")


def as_numbers(values: pd.Series) -> pd.Series:
    """Plain numbers only: "12,50" is ambiguous (12.50 or 1250) and stays NaN."""
    if values.dtype.kind in "biuf":
        return values.astype(float)
    if isinstance(values.dtype, pd.ArrowDtype | pd.Int64Dtype | pd.Float64Dtype):
        return values.astype("Float64").astype(float)
    text = values.astype("string").str.strip()
    return pd.to_numeric(text, errors="coerce").astype(float)


def as_bools(values: pd.Series, default: bool) -> pd.Series:
    if values.dtype == bool:
        return values
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["true", "t", "1", "yes"]).where(text.notna(), default).astype(bool)


def join_text(*parts: pd.Series) -> pd.Series:
    joined = parts[0].fillna("").astype(str)
    for part in parts[1:]:
        joined = joined + " " + part.fillna("").astype(str)
    joined = joined.str.strip().str.replace(r"\s+", " ", regex=True)
    return joined.mask(joined == "")


def first_id(values: pd.Series) -> pd.Series:
    """The first id of an association list (decoded by `extract`); null for an empty one."""

    def first(value: object) -> object:
        if isinstance(value, list | tuple | np.ndarray):
            return value[0] if len(value) else None
        return value

    return as_ids(values.map(first, na_action="ignore").astype(object))


def finish_table(table_rows: pd.DataFrame, spec, version: str) -> pd.DataFrame:
    return spec.typed(table_rows.assign(schema_version=version))


def require_time(
    problems: Problems, utc: pd.Series, raw: pd.Series, name: str, now: pd.Timestamp
) -> None:
    problems.add(utc.isna() & raw.isna(), f"{name} missing")
    problems.add(utc.isna() & raw.notna(), f"{name} is not a timestamp", raw)
    problems.add(utc > now, f"{name} in the future", utc)


# --------------------------------------------------------------------------- the loop
RowBuilder = Callable[[Extract, pd.Timestamp], tuple[pd.DataFrame, Problems]]


def stage_sources(
    spec,
    raws: Mapping[str, pd.DataFrame],
    allowed: tuple[str, ...],
    build: RowBuilder,
    *,
    now: pd.Timestamp,
    type_: bool = True,
    finish: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> Staged:
    """Drift-check every source first (nothing is staged if one drifted), then build rows."""
    unknown = set(raws) - set(allowed)
    if unknown:
        raise ValueError(f"{spec.table} is not built from {sorted(unknown)}")
    now = pd.Timestamp(now).tz_convert("UTC")
    extracts = [extract(table, raw) for table, raw in raws.items()]
    staged = Staged(frame=spec.empty())
    frames = []
    for ext in extracts:
        rows, problems = build(ext, now)
        keep = rows.pop("_keep") if "_keep" in rows else pd.Series(True, index=rows.index)
        if (~keep).any():
            staged.skipped[ext.table] = int((~keep).sum())
        staged.rejections += problems.rejections(ext, rows=keep)
        staged.drift[ext.table] = ext.report
        staged.read += len(ext.raw)
        frames.append(rows[keep & ~problems.bad])
    if frames:
        frame = _concat(frames)
        if finish is not None:
            frame = finish(frame)
        staged.frame = finish_table(frame, spec, schema_version()) if type_ else frame
    return staged


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack sources; a column one source lacks (all-null) must not decide the dtype."""
    columns = list(frames[0].columns)
    parts = [f.dropna(axis=1, how="all") for f in frames if len(f)]
    if not parts:
        return frames[0]
    return pd.concat(parts, ignore_index=True).reindex(columns=columns)
