"""Partner file drops -> `raw.file_contacts` / `raw.file_orders`, each file loaded exactly once.

A partner (an offline store) drops CSV, JSON Lines or Parquet files into
`$PROFILE_ASSETS_HOME/drop/contacts/` and `drop/orders/`. Each file goes through:

1. discovery: settled, non-temporary files only, oldest first (`pending_files`);
2. parsing: format, text encoding, CSV delimiter and quoting are detected, because partners
   send whatever their spreadsheet exported (`read_drop`);
3. shaping: headers matched case-, spacing- and punctuation-insensitively to the columns
   `schemas/sources/files.yaml` declares (and through the unified schema's aliases), ids
   required, timestamps and numbers typed; every row that cannot be loaded becomes a
   `Rejection` with file and line (`shape_rows`);
4. loading: rows merged on `_source_id`, rejections quarantined and the file's content hash
   recorded in `ops.loaded_files` in ONE warehouse transaction (`load_file`), so a crash at
   any point neither loses nor duplicates: before the commit nothing happened, after it the
   hash says "done" and a rerun only archives the file;
5. archiving: the file moves to `drop/archive/<kind>/`, or to `drop/failed/<kind>/` with a
   `.reason.txt` beside it when it cannot be parsed at all (a failed hash is remembered too,
   so the same bytes are never retried forever).

Everything here is Dagster-free; `file_assets.py` wires it into assets and a sensor.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from profile_assets.contracts.columns import match_columns
from profile_assets.contracts.schema import SourceTable, load_source
from profile_assets.normalizers import fold_key, to_utc
from profile_assets.quarantine.rejections import (
    LoadTally,
    Rejection,
    quarantine,
    with_load_metadata,
)
from profile_assets.warehouse import WarehouseConnection

SOURCE = "file_drop"
LOADED_FILES_TABLE = "ops.loaded_files"
# A file younger than this may still be being written by a producer that does not rename.
SETTLE_SECONDS = 2.0
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".reason.txt")
CSV_DELIMITERS = ",;\t|"
# Western encodings are tried first: on short files charset-normalizer alone guesses e.g.
# cp1250 or mac_roman for plain Latin-1 text, which silently corrupts names.
WESTERN_ENCODINGS = ["cp1252", "latin_1"]
TEXT_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
VERSION_COLUMNS = ("_file_modified_at", "_extracted_at", "_line")
ARCHIVE, FAILED = "archive", "failed"  # drop/<area>/<kind>/


@dataclass(frozen=True)
class DropKind:
    """One kind of drop: where its files land, which raw table they feed, which source mapping
    in `schemas/sources/files.yaml` declares their columns, and the partner's id column."""

    name: str
    table: str
    source_table: str
    entity: str
    id_column: str

    @property
    def raw_id(self) -> str:
        return raw_name(self.id_column)

    @property
    def source_mapping(self) -> SourceTable:
        """Declared columns, their types and the zone of naive times (Europe/London)."""
        return load_source(self.source_table)

    def raw_types(self) -> dict[str, str]:
        """Raw column name -> the mapping's type, for every declared column."""
        return {raw_name(c.name): c.type for c in self.source_mapping.columns.values()}


CONTACTS = DropKind("contacts", "raw.file_contacts", "file_contacts", "person", "contact_ref")
ORDERS = DropKind("orders", "raw.file_orders", "file_orders", "order", "order_ref")
KINDS = (CONTACTS, ORDERS)

LOAD_COLUMNS = {
    "_source": ("string", f"Always '{SOURCE}'."),
    "_source_id": ("string", "The row's own id (contact_ref / order_ref); the merge key."),
    "_extracted_at": ("datetime", "When the file was loaded (UTC)."),
    "_run_id": ("string", "Dagster run that loaded the row."),
    "_op": ("string", "Always 'upsert': drops carry no deletes."),
    "_file": ("string", "Path of the file under drop/, e.g. contacts/partner.csv."),
    "_file_sha256": ("string", "Content hash of the file (see ops.loaded_files)."),
    "_file_modified_at": ("datetime", "File modification time (UTC): the newest file wins."),
    "_line": ("integer", "Line of the record in the file (row number for Parquet)."),
}
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


class UnparseableFile(Exception):
    """The file as a whole cannot be read: it goes to failed/ with this reason."""


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


@dataclass
class FileOutcome:
    """What happened to one dropped file; `tally` balances read = loaded + rejected."""

    file: str
    sha256: str
    status: str  # loaded | duplicate | failed
    tally: LoadTally
    reason: str | None = None
    details: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- discovery


def pending_files(
    drop_root: Path,
    kind: DropKind,
    *,
    now: float | None = None,
    settle_seconds: float = SETTLE_SECONDS,
) -> list[Path]:
    """Files waiting in drop/<kind>/, oldest first; hidden, temporary and still-changing
    files are left for a later pass."""
    directory = drop_root / kind.name
    if not directory.is_dir():
        return []
    now = time.time() if now is None else now
    ready = [
        path
        for path in directory.iterdir()
        if path.is_file()
        and not path.name.startswith((".", "~"))
        and not path.name.lower().endswith(TEMPORARY_SUFFIXES)
        and now - path.stat().st_mtime >= settle_seconds
    ]
    return sorted(ready, key=lambda p: (p.stat().st_mtime, p.name))


# --------------------------------------------------------------------------- parsing


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


def detect_format(name: str, data: bytes) -> str:
    """By extension, else by content (Parquet magic bytes, a leading '{')."""
    suffix = Path(name).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv", ".txt"):
        return "csv"
    if data.startswith(b"PAR1"):
        return "parquet"
    return "jsonl" if data.lstrip().startswith(b"{") else "csv"


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode with the file's encoding: BOM, then strict UTF-8, then Western single-byte
    encodings, then whatever charset-normalizer finds most coherent."""
    for bom, encoding in TEXT_BOMS:
        if data.startswith(bom):
            return _decode(data, encoding)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    guess = from_bytes(data, cp_isolation=WESTERN_ENCODINGS).best() or from_bytes(data).best()
    if guess is None:
        raise UnparseableFile("the text encoding could not be detected")
    return _decode(data, guess.encoding)


def _decode(data: bytes, encoding: str) -> tuple[str, str]:
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError as error:
        if encoding == "cp1252":  # bytes cp1252 leaves undefined are still valid Latin-1
            return data.decode("latin_1"), "latin_1"
        raise UnparseableFile(f"not valid {encoding}: {error}") from error


def detect_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """csv.Sniffer's guess when it splits the sample consistently, else the delimiter that
    gives the most columns on the most consistent rows (Sniffer trips on apostrophes and
    on files where one column dominates)."""
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=CSV_DELIMITERS)
        if _split_score(sample, sniffed)[0] == 1.0:
            return sniffed
    except csv.Error:
        pass
    best = max(CSV_DELIMITERS, key=lambda d: _split_score(sample, _excel(d)))
    if _split_score(sample, _excel(best))[1] < 2:
        raise UnparseableFile(f"no delimiter among {CSV_DELIMITERS!r} splits the header")
    return _excel(best)


def _excel(delimiter: str) -> type[csv.Dialect]:
    return type("Detected", (csv.excel,), {"delimiter": delimiter})


def _split_score(sample: str, dialect) -> tuple[float, int]:
    """(share of sample rows with the header's field count, that field count)."""
    try:
        rows = [r for r in csv.reader(io.StringIO(sample, newline=""), dialect) if r]
    except csv.Error:
        return 0.0, 0
    if not rows or len(rows[0]) < 2:
        return 0.0, len(rows[0]) if rows else 0
    width = len(rows[0])
    return sum(len(r) == width for r in rows) / len(rows), width


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
                rejections.append(_reject(reason, {"fields": fields}, name, start))
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
            rejections.append(_reject(f"bad JSON: {error.msg}", {"text": raw}, name, number))
            continue
        if isinstance(value, dict):
            records.append(value)
            lines.append(number)
        else:
            reason = f"expected a JSON object, found {type(value).__name__}"
            rejections.append(_reject(reason, {"text": raw}, name, number))
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


def _reject(reason: str, payload: object, name: str, line: int) -> Rejection:
    return Rejection(source=SOURCE, reason=reason, payload=payload, file=name, line=line)


# --------------------------------------------------------------------------- shaping


def raw_name(column: str) -> str:
    """Warehouse-safe name: 'First Name' -> first_name, 'E-mail' -> e_mail. It folds to the
    same key as the original, so staging's loose column matching still recognises it."""
    return re.sub(r"[^0-9a-z]+", "_", column.lower()).strip("_") or "column"


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
        _reject(problems[i].rstrip("; "), parsed.payload(i), name, parsed.lines[i])
        for i in np.flatnonzero(rejected)
    ]
    return shaped[~rejected].reset_index(drop=True), rejections


def _is_missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


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


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class DroppedFile:
    """One file as found in drop/<kind>/, read once: everything else works on these bytes."""

    path: Path
    kind: DropKind
    data: bytes
    sha256: str
    modified_at: pd.Timestamp

    @classmethod
    def read(cls, path: Path, kind: DropKind) -> DroppedFile:
        data = path.read_bytes()
        modified_at = pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC")
        return cls(path, kind, data, hashlib.sha256(data).hexdigest(), modified_at)

    @property
    def name(self) -> str:
        """How rows, rejections and ops.loaded_files name the file: '<kind>/<file name>'."""
        return f"{self.kind.name}/{self.path.name}"

    def move_to(self, area: str, drop_root: Path) -> Path:
        """Into drop/<area>/<kind>/ under a name unique per content, so a re-sent name never
        overwrites an earlier delivery. A file already gone was moved by a concurrent run."""
        directory = drop_root / area / self.kind.name
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{self.path.stem}.{self.sha256[:12]}{self.path.suffix}"
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, target)
        return target


def load_pending(
    conn: WarehouseConnection,
    drop_root: Path,
    kind: DropKind,
    *,
    run_id: str,
    now: float | None = None,
) -> list[FileOutcome]:
    """Load every settled file waiting in drop/<kind>/, one transaction per file."""
    if not conn.table_exists(kind.table):
        conn.write_df(empty_table(kind), kind.table)
    outcomes = []
    for path in pending_files(drop_root, kind, now=now):
        try:
            dropped = DroppedFile.read(path, kind)
        except FileNotFoundError:
            continue  # a concurrent run took it
        outcomes.append(load_file(conn, dropped, drop_root=drop_root, run_id=run_id))
    return outcomes


def load_file(
    conn: WarehouseConnection, dropped: DroppedFile, *, drop_root: Path, run_id: str
) -> FileOutcome:
    """Load one file exactly once (by content hash), then archive it; see the module doc."""
    kind, name = dropped.kind, dropped.name
    known = _known_files(conn, kind).get(dropped.sha256)
    if known is not None and known["status"] == "loaded":
        dropped.move_to(ARCHIVE, drop_root)
        return FileOutcome(name, dropped.sha256, "duplicate", LoadTally())
    if known is not None:  # failed before; the move aside may not have happened
        _fail_aside(dropped, known["reason"], drop_root)
        return FileOutcome(name, dropped.sha256, "failed", LoadTally(), reason=known["reason"])
    try:
        parsed = read_drop(name, dropped.data)
        frame, bad_rows = shape_rows(parsed, kind, name)
    except UnparseableFile as error:
        return _load_failure(conn, dropped, str(error), drop_root=drop_root, run_id=run_id)
    rows = with_load_metadata(
        frame,
        source=SOURCE,
        source_id=frame[kind.raw_id],
        run_id=run_id,
        extracted_at=pd.Timestamp.now(tz="UTC"),
    ).assign(_file=name, _file_sha256=dropped.sha256, _file_modified_at=dropped.modified_at)
    rejections = parsed.rejections + bad_rows
    tally = LoadTally(read=parsed.read, loaded=len(rows), rejected=rejections)
    with conn.transaction():
        conn.merge_df(rows, kind.table, ["_source_id"], version_columns=VERSION_COLUMNS)
        quarantine(conn, rejections, run_id=run_id)
        _record_file(conn, dropped, "loaded", tally, run_id=run_id)
    dropped.move_to(ARCHIVE, drop_root)
    return FileOutcome(name, dropped.sha256, "loaded", tally, details=parsed.details)


def _load_failure(
    conn: WarehouseConnection, dropped: DroppedFile, reason: str, *, drop_root: Path, run_id: str
) -> FileOutcome:
    """A whole file that cannot be parsed counts as one record read and rejected."""
    head = dropped.data[:500].decode("latin_1")
    rejection = Rejection(SOURCE, f"unparseable file: {reason}", {"head": head}, dropped.name)
    tally = LoadTally(read=1, loaded=0, rejected=[rejection])
    with conn.transaction():
        quarantine(conn, [rejection], run_id=run_id)
        _record_file(conn, dropped, "failed", tally, run_id=run_id, reason=reason)
    _fail_aside(dropped, reason, drop_root)
    return FileOutcome(dropped.name, dropped.sha256, "failed", tally, reason=reason)


def _fail_aside(dropped: DroppedFile, reason: str, drop_root: Path) -> None:
    """The reason is written first, so a failed file never sits there unexplained."""
    target = dropped.move_to(FAILED, drop_root)
    reason_file = target.with_name(target.name + ".reason.txt")
    reason_file.write_text(reason + "\n", encoding="utf-8")


def _known_files(conn: WarehouseConnection, kind: DropKind) -> dict[str, dict]:
    if not conn.table_exists(LOADED_FILES_TABLE):
        return {}
    known = conn.query_df(
        f"SELECT sha256, status, reason FROM {LOADED_FILES_TABLE} WHERE kind = '{kind.name}'"
    )
    return {row["sha256"]: row for row in known.to_dict("records")}


def _record_file(
    conn: WarehouseConnection,
    dropped: DroppedFile,
    status: str,
    tally: LoadTally,
    *,
    run_id: str,
    reason: str | None = None,
) -> None:
    record = pd.DataFrame(
        [
            {
                "kind": dropped.kind.name,
                "sha256": dropped.sha256,
                "file": dropped.name,
                "status": status,
                "reason": reason,
                "records_read": tally.read,
                "records_loaded": tally.loaded,
                "records_rejected": len(tally.rejected),
                "file_modified_at": dropped.modified_at,
                "loaded_at": pd.Timestamp.now(tz="UTC"),
                "run_id": run_id,
            }
        ]
    ).astype({"reason": "string"})
    conn.merge_df(record, LOADED_FILES_TABLE, ["kind", "sha256"])
