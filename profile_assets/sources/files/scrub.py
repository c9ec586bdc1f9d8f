"""Keeping an erased person out of partner files: on arrival, and in the files kept on disk.

Loading drops a suppressed person's rows and rejections before anything is stored
(`drop_suppressed`), and the archived copy of a delivery is rewritten without them. Erasure
calls `scrub_drop_area` to rewrite every file already under `drop/archive/` and
`drop/failed/`. A suppressed row is found by the personal-data registry's entry for the
kind's raw table (the address, the contact reference), exactly as the warehouse finds it.

Files are rewritten in their own format, encoding and delimiter, atomically (a temporary
file renamed over the old one): CSV and JSON Lines lose the lines of the dropped records,
Parquet the rows; a file that cannot be parsed loses every line naming a suppressed address.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from profile_assets.contracts.personal_data import registry
from profile_assets.privacy.suppression import Suppressions, suppressed_payload
from profile_assets.quarantine.rejections import Rejection
from profile_assets.sources.files.discovery import ARCHIVE, FAILED
from profile_assets.sources.files.kinds import KINDS, DropKind, raw_name
from profile_assets.sources.files.parsing import ParsedFile, read_drop
from profile_assets.sources.files.sniffing import UnparseableFile, decode_text, detect_format


def _mask(frame: pd.DataFrame, kind: DropKind, suppressions: Suppressions) -> np.ndarray:
    """Which rows (raw-named columns) belong to a suppressed person."""
    if frame.empty:
        return np.zeros(0, dtype=bool)
    if "_source_id" not in frame.columns and kind.raw_id in frame.columns:
        frame = frame.assign(_source_id=frame[kind.raw_id])
    return registry().arrival(kind.table).mask(frame, suppressions).to_numpy(dtype=bool)


def _delivered_mask(rows: pd.DataFrame, kind: DropKind, suppressions: Suppressions) -> np.ndarray:
    """`_mask` for rows under the partner's own headers."""
    named = rows.set_axis([raw_name(str(c)) for c in rows.columns], axis=1)
    named = named.loc[:, ~named.columns.duplicated()].astype(object)
    return _mask(named.where(named.notna(), None), kind, suppressions)


def _rejected(rejection: Rejection, kind: DropKind, suppressions: Suppressions) -> bool:
    """A rejected delivered record (or a bad line's text) of a suppressed person."""
    payload = rejection.payload
    record = isinstance(payload, dict) and not {"fields", "text"} & set(payload)
    if record and _delivered_mask(pd.DataFrame([payload]), kind, suppressions).any():
        return True
    return suppressed_payload(payload, kind.source_table, suppressions)


def drop_suppressed(
    rows: pd.DataFrame, rejections: list[Rejection], kind: DropKind, suppressions: Suppressions
) -> tuple[pd.DataFrame, list[Rejection], int]:
    """Shaped rows and rejections of one file without a suppressed person's records."""
    if not suppressions:
        return rows, rejections, 0
    mask = _mask(rows, kind, suppressions)
    kept = [r for r in rejections if not _rejected(r, kind, suppressions)]
    dropped = int(mask.sum()) + len(rejections) - len(kept)
    return rows[~mask].reset_index(drop=True), kept, dropped


def scrub_file(path: Path, kind: DropKind, suppressions: Suppressions) -> int:
    """Rewrite `path` without a suppressed person's records; returns how many went."""
    if not suppressions or not path.is_file():
        return 0
    data = path.read_bytes()
    try:
        parsed = read_drop(path.name, data)
    except UnparseableFile:
        return _scrub_lines(path, data, kind, suppressions)
    dropped = _delivered_mask(parsed.rows, kind, suppressions)
    bad = [r.line for r in parsed.rejections if _rejected(r, kind, suppressions)]
    if not dropped.any() and not bad:
        return 0
    if detect_format(path.name, data) == "parquet":
        table = pq.read_table(pa.BufferReader(data))
        out = io.BytesIO()
        pq.write_table(table.filter(pa.array(~dropped)), out)
        _replace(path, out.getvalue())
        return int(dropped.sum())
    text, encoding = decode_text(data)
    starts = [line for line, gone in zip(parsed.lines, dropped, strict=True) if gone] + bad
    removed = _drop_records(text, parsed, set(starts))
    _replace(path, removed.encode(_writing(encoding)))
    return len(starts)


def _drop_records(text: str, parsed: ParsedFile, starts: set[int]) -> str:
    """`text` without the physical lines of the records starting on `starts` (a record runs
    up to the next record's first line: a quoted CSV field may span lines)."""
    if parsed.details.get("format") == "jsonl":
        lines = text.split("\n")  # as parse_jsonl numbers them
        return "\n".join(line for number, line in enumerate(lines, 1) if number not in starts)
    lines = io.StringIO(text, newline="").readlines()  # as csv.reader counts them
    boundaries = sorted({*parsed.lines, *(r.line for r in parsed.rejections if r.line)})
    gone: set[int] = set()
    for i, start in enumerate(boundaries):
        if start in starts:
            end = boundaries[i + 1] if i + 1 < len(boundaries) else len(lines) + 1
            gone.update(range(start, end))
    return "".join(line for number, line in enumerate(lines, 1) if number not in gone)


def _scrub_lines(path: Path, data: bytes, kind: DropKind, suppressions: Suppressions) -> int:
    """A file no parser reads: drop every line that names a suppressed address."""
    try:
        text, encoding = decode_text(data)
    except UnparseableFile:
        text, encoding = data.decode("latin_1"), "latin_1"
    lines = io.StringIO(text, newline="").readlines()
    kept = [line for line in lines if not suppressed_payload(line, kind.source_table, suppressions)]
    if len(kept) == len(lines):
        return 0
    _replace(path, "".join(kept).encode(_writing(encoding)))
    return len(lines) - len(kept)


def _writing(encoding: str) -> str:
    """The codec that writes text back as it was read (a UTF-16 file keeps its BOM)."""
    return "utf-16" if encoding.lower().replace("_", "-").startswith("utf-16") else encoding


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.scrub.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def scrub_drop_area(drop_root: Path, suppressions: Suppressions) -> tuple[int, int]:
    """Rewrite every archived and failed-aside file without suppressed people's records;
    returns (files rewritten, records removed)."""
    files = records = 0
    for area in (ARCHIVE, FAILED):
        for kind in KINDS:
            directory = drop_root / area / kind.name
            if not directory.is_dir():
                continue
            for path in sorted(directory.iterdir()):
                if path.is_file() and not path.name.endswith((".reason.txt", ".tmp")):
                    removed = scrub_file(path, kind, suppressions)
                    files += bool(removed)
                    records += removed
    return files, records
