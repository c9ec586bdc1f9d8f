"""Resolve any file of person records: the library behind `profile-assets resolve IN --out OUT`.

No Dagster, sandbox or warehouse: read CSV or Parquet, recognize columns by the unified
schema's canonical names and aliases, run the same engine as the assets, and write every
input record exactly once with its `record_id` unchanged, its `profile_id` and
`match_probability` (CSV or Parquet, by the output file's extension).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from profile_assets.contracts.columns import match_columns
from profile_assets.identity.engine import resolve_records
from profile_assets.identity.features import LINK_FIELD
from profile_assets.identity.overrides import Overrides
from profile_assets.identity.results import Progress, ResolutionResult
from profile_assets.identity.settings import ResolutionSettings
from profile_assets.normalizers import fold_key
from profile_assets.sources.files.sniffing import UnparseableFile, decode_text, detect_dialect

#: Bookkeeping columns the person schema does not define, by folded name.
_KEY_COLUMNS = {"recordid": "record_id", "source": "source", "linkid": LINK_FIELD}
OUTPUT_COLUMNS = ["record_id", "profile_id", "match_probability", "match_rule"]


class InputError(ValueError):
    """The input file cannot be resolved as given; the message says how to fix it."""


def read_records(path: str | Path) -> pd.DataFrame:
    """CSV (all columns as text, only empty cells missing) or Parquet.

    CSV files come from spreadsheets and partners: their encoding (BOM, UTF-8, cp1252,
    Latin-1, UTF-16) and delimiter are detected the way file drops detect them. Parquet
    columns of any type (lists, structs, bytes, categoricals, tz-aware timestamps) become
    text in `canonical_records`, because the engine compares strings. An empty file is an
    empty table.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if _kind(path) == "parquet":
        return pd.read_parquet(path)
    data = path.read_bytes()
    if not data.strip():
        return pd.DataFrame(columns=["record_id"])
    try:
        text, _ = decode_text(data)
        dialect = detect_dialect(text)
    except UnparseableFile as error:
        raise InputError(f"{path}: {error}") from error
    return pd.read_csv(
        io.StringIO(text), sep=dialect.delimiter, quotechar=dialect.quotechar, dtype=str,
        keep_default_na=False, na_values=[""], skipinitialspace=True,
    )  # fmt: skip


def _text_column(values: pd.Series) -> pd.Series:
    """A Parquet column as text (None where missing): dates as ISO text, nested values as
    JSON, bytes decoded as UTF-8."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.strftime("%Y-%m-%d").astype(object).where(values.notna(), None)
    return values.astype(object).map(_text, na_action="ignore").where(values.notna(), None)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone or post code stored as a number must not gain '.0'
    return str(value)


def canonical_records(frame: pd.DataFrame) -> pd.DataFrame:
    """The input renamed to canonical columns (unrecognized columns dropped), validated."""
    keys = {c: _KEY_COLUMNS[fold_key(c)] for c in frame.columns if fold_key(c) in _KEY_COLUMNS}
    rest = [c for c in frame.columns if c not in keys]
    try:
        person = match_columns(rest)
    except ValueError as error:
        raise InputError(str(error)) from error
    if "record_id" not in keys.values():
        raise InputError(f"no `record_id` column (columns: {', '.join(map(str, frame.columns))})")
    if not person and len(frame):  # an empty table resolves to an empty map, whatever columns
        raise InputError(
            "no person fields recognized (columns: "
            f"{', '.join(map(str, frame.columns))}); expected some of first_name, last_name, "
            "full_name, email, phone, date_of_birth, address_line1, city, postcode, country"
        )
    records = frame[list(keys) + list(person)].rename(columns={**keys, **person})
    records = records.apply(_text_column)
    ids = records["record_id"]
    if ids.isna().any():
        raise InputError(f"{int(ids.isna().sum())} records have an empty record_id")
    scope = ["source", "record_id"] if "source" in records.columns else ["record_id"]
    duplicated = records.duplicated(scope, keep=False)
    if duplicated.any():
        examples = records.loc[duplicated, "record_id"].drop_duplicates().head(5).tolist()
        raise InputError(f"duplicate record_id values, e.g. {examples}")
    return records


def resolve_file(
    input_path: str | Path,
    output_path: str | Path,
    *,
    overrides: Overrides | str | Path | None = None,
    settings: ResolutionSettings | None = None,
    progress: Progress | None = None,
) -> ResolutionResult:
    """Resolve `input_path` and write the per-record result to `output_path`."""
    output_path = Path(output_path)
    out_kind = _kind(output_path)
    frame = read_records(input_path)
    records = canonical_records(frame)
    result = resolve_records(records, overrides=overrides, settings=settings, progress=progress)
    mapped = result.identity_map
    out = pd.DataFrame({"record_id": frame[_original(frame, "record_id")].to_numpy()})
    if "source" in records.columns:
        out.insert(0, "source", frame[_original(frame, "source")].to_numpy())
    out["profile_id"] = mapped["profile_id"].to_numpy()
    out["match_probability"] = mapped["match_probability"].to_numpy()
    out["match_rule"] = mapped["match_rule"].to_numpy()
    output_path.parent.mkdir(parents=True, exist_ok=True)
    if out_kind == "csv":
        out.to_csv(output_path, index=False)
    else:
        out.to_parquet(output_path, index=False)
    return result


def _original(frame: pd.DataFrame, canonical: str) -> str:
    return next(c for c in frame.columns if _KEY_COLUMNS.get(fold_key(c)) == canonical)


def _kind(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".parquet"] or suffixes[-1:] == [".pq"]:
        return "parquet"
    if ".csv" in suffixes[-2:]:
        return "csv"
    raise InputError(f"{path}: expected a .csv or .parquet file")
