"""Reading a dropped file (CSV, JSON Lines, Parquet) into rows under the delivered column
names, with the line each row starts on; a record that breaks is rejected, not fatal.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from profile_assets.quarantine.rejections import Rejection
from profile_assets.sources.files.kinds import SOURCE
from profile_assets.sources.files.sniffing import (
    UnparseableFile,
    decode_text,
    detect_dialect,
    detect_format,
)


@dataclass
class ParsedFile:
    """A file read into rows under the delivered column names, the line each row starts on
    (row number for Parquet), and the records that broke while parsing."""

    rows: pd.DataFrame
    lines: list[int]
    rejections: list[Rejection]
    details: dict[str, str]

    @property
    def read(self) -> int:
        return len(self.rows) + len(self.rejections)

    def payload(self, position: int) -> dict[str, object]:
        """The delivered record at `position`, for quarantine."""
        row = self.rows.iloc[position]
        return {str(k): (None if _is_missing(v) else v) for k, v in row.items()}


def read_drop(name: str, data: bytes) -> ParsedFile:
    """Parse a dropped file of any supported format; raises `UnparseableFile`."""
    if not data.strip():
        raise UnparseableFile("the file is empty")
    file_format = detect_format(name, data)
    if file_format == "parquet":
        return parse_parquet(name, data)
    text, encoding = decode_text(data)
    parsed = parse_jsonl(name, text) if file_format == "jsonl" else parse_csv(name, text)
    parsed.details["encoding"] = encoding
    return parsed


def parse_csv(name: str, text: str) -> ParsedFile:
    """Rows keyed by header; a row with the wrong number of fields is rejected with its line.
    Lines count physically (a quoted field spanning lines advances them), header = line 1."""
    dialect = detect_dialect(text)
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = _unique([cell.strip() for cell in next(reader)])
        records, lines, rejections = [], [], []
        line = reader.line_num + 1
        for fields in reader:
            start, line = line, reader.line_num + 1
            if not any(f.strip() for f in fields):
                continue  # blank lines and spreadsheet filler rows like ';;;;' are not records
            if len(fields) != len(header):
                reason = f"expected {len(header)} fields, found {len(fields)}"
                rejections.append(reject(reason, {"fields": fields}, name, start))
            else:
                records.append(fields)
                lines.append(start)
    except csv.Error as error:
        raise UnparseableFile(f"CSV error near line {reader.line_num}: {error}") from error
    details = {"format": "csv", "delimiter": dialect.delimiter, "quotechar": dialect.quotechar}
    return ParsedFile(pd.DataFrame(records, columns=header), lines, rejections, details)


def parse_jsonl(name: str, text: str) -> ParsedFile:
    """One JSON object per line; a bad line is rejected, a file with no good line fails."""
    records, lines, rejections = [], [], []
    # split on '\n' only: str.splitlines would also break on U+2028 inside JSON strings
    for number, raw in enumerate(text.split("\n"), start=1):
        raw = raw.rstrip("\r")
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            rejections.append(reject(f"bad JSON: {error.msg}", {"text": raw}, name, number))
            continue
        if isinstance(value, dict):
            records.append(value)
            lines.append(number)
        else:
            reason = f"expected a JSON object, found {type(value).__name__}"
            rejections.append(reject(reason, {"text": raw}, name, number))
    if not records:
        first = rejections[0]
        raise UnparseableFile(f"no line is a JSON object ({first.reason} on line {first.line})")
    rows = pd.DataFrame(records)  # columns: every key, in order of first appearance
    return ParsedFile(rows, lines, rejections, {"format": "jsonl"})


def parse_parquet(name: str, data: bytes) -> ParsedFile:
    try:
        frame = pq.read_table(pa.BufferReader(data)).to_pandas()
    except (pa.ArrowException, OSError, ValueError) as error:
        raise UnparseableFile(f"not a readable Parquet file: {error}") from error
    frame.columns = _unique([str(c).strip() for c in frame.columns])
    return ParsedFile(frame, list(range(1, len(frame) + 1)), [], {"format": "parquet"})


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def reject(reason: str, payload: object, name: str, line: int) -> Rejection:
    return Rejection(source=SOURCE, reason=reason, payload=payload, file=name, line=line)


def _is_missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))
