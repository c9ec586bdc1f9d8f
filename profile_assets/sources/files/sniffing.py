"""Guessing what partners did not say: file format, text encoding, CSV delimiter and quoting.

Partners send whatever their spreadsheet exported, so nothing here trusts a declaration.
Kept free of drop kinds and the warehouse so any file reader can reuse it (`decode_text`
is the encoding detection).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from charset_normalizer import from_bytes

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


class UnparseableFile(Exception):
    """The file as a whole cannot be read: it goes to failed/ with this reason."""


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
