"""Partner file drops: the offline store's contacts and orders, delivered as files.

A partner sends a delivery every so often, and no two deliveries look quite alike: CSV in
different encodings and delimiters, JSON Lines, Parquet. Timestamps are naive local time
(Europe/London), as the partner's till system writes them. `read_file_drop` is the reference
reader: it sniffs encoding and delimiter instead of being told, as an extractor must.
"""

from __future__ import annotations

import codecs
import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd

from profile_assets.sandbox.world import SOURCE_TIMEZONES, World

FILE_TABLES: dict[str, str] = {"file_contacts": "updated", "file_orders": "order date"}
# (encoding, delimiter) of successive CSV deliveries: the partner's tooling changed over time.
CSV_DIALECTS: tuple[tuple[str, str], ...] = (
    ("utf-8", ","),
    ("cp1252", ";"),
    ("utf-8-sig", "|"),
    ("utf-16", "\t"),
)
DELIVERIES_PER_FORMAT = len(CSV_DIALECTS)  # so every CSV dialect turns up
_LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S"


def write_file_drops(
    world: World, directory: str | Path, formats: tuple[str, ...] = ("csv", "jsonl", "parquet")
) -> list[Path]:
    """Write each file table as time-ordered deliveries, cycling through `formats` (the nth
    delivery in a format decides its CSV dialect)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table, time_column in FILE_TABLES.items():
        frame = _local_times(world.tables[table])
        frame = frame.sort_values(time_column, kind="stable").reset_index(drop=True)
        n_deliveries = DELIVERIES_PER_FORMAT * len(formats)
        for k, rows in enumerate(np.array_split(np.arange(len(frame)), n_deliveries)):
            fmt = formats[k % len(formats)]
            path = directory / f"{table}_{k + 1:03d}.{fmt}"
            _WRITERS[fmt](frame.iloc[rows], path, k // len(formats))
            written.append(path)
    return written


def _local_times(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            local = frame[column].dt.tz_convert(SOURCE_TIMEZONES["file"])
            frame[column] = local.dt.tz_localize(None)
    return frame


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as the text a spreadsheet would show; missing stays missing."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            text = values.dt.strftime(_LOCAL_FORMAT)
            out[column] = text.astype(object).where(values.notna(), None)
        else:
            out[column] = [None if v is None or v != v else str(v) for v in values]
    return pd.DataFrame(out, index=frame.index)


def _write_csv(frame: pd.DataFrame, path: Path, nth: int) -> None:
    encoding, delimiter = CSV_DIALECTS[nth % len(CSV_DIALECTS)]
    _as_text(frame).to_csv(path, index=False, sep=delimiter, encoding=encoding)


def _write_jsonl(frame: pd.DataFrame, path: Path, nth: int) -> None:
    text = _as_text(frame)
    native = [c for c in frame.columns if frame[c].dtype == object]  # keep numbers as numbers
    with path.open("w", encoding="utf-8") as out:
        for row_text, row_native in zip(
            text.to_dict("records"), frame[native].to_dict("records"), strict=True
        ):
            row_text.update({k: v for k, v in row_native.items() if not isinstance(v, str)})
            out.write(json.dumps(row_text, ensure_ascii=False) + "\n")


def _write_parquet(frame: pd.DataFrame, path: Path, nth: int) -> None:
    """Parquet keeps real timestamps; mixed-type columns (an amount of "12,50") become text."""
    frame = frame.copy()
    for column in _object_columns(frame):
        if any(not isinstance(v, str) for v in frame[column].dropna()):
            frame[column] = [None if v is None else str(v) for v in frame[column]]
    frame.to_parquet(path, index=False)


def _object_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if frame[c].dtype == np.dtype(object)]


_WRITERS = {"csv": _write_csv, "jsonl": _write_jsonl, "parquet": _write_parquet}


def sniff_encoding(raw: bytes) -> str:
    """The partner's encodings: a BOM says UTF-16 or UTF-8-SIG; else UTF-8 if it decodes."""
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
                          (codecs.BOM_UTF8, "utf-8-sig")):  # fmt: skip
        if raw.startswith(bom):
            return encoding
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def read_file_drop(path: str | Path) -> pd.DataFrame:
    """One delivery back as a DataFrame (text cells, None for empty), whatever its format."""
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        with path.open(encoding="utf-8") as lines:
            return pd.DataFrame([json.loads(line) for line in lines if line.strip()])
    raw = path.read_bytes()
    text = raw.decode(sniff_encoding(raw))
    if text.startswith("\ufeff"):
        text = text[1:]
    header = text.split("\n", 1)[0]
    delimiter = csv.Sniffer().sniff(header, delimiters=",;|\t").delimiter
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    frame = pd.DataFrame(rows[1:], columns=rows[0], dtype=object)
    return frame.where(frame != "", None)
