"""The push feed: every served record as JSON Lines or CSV (for engines that take a file).

CSV columns are the record's fields in order; nested values (the last order, the open cart)
are JSON text in their cell, since a CSV cell cannot hold a structure.
"""

from __future__ import annotations

import csv
from pathlib import Path

import orjson

from profile_assets.serving.snapshot import iter_records

FORMATS = ("jsonl", "csv")


def export(snapshot: Path, out: Path, fmt: str) -> int:
    """Write the snapshot's records to `out`; returns how many."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r}: expected one of {', '.join(FORMATS)}")
    count = 0
    with open(
        out, "wb" if fmt == "jsonl" else "w", **({} if fmt == "jsonl" else {"newline": ""})
    ) as handle:
        writer = None
        for body in iter_records(snapshot):
            count += 1
            if fmt == "jsonl":
                handle.write(body + b"\n")
                continue
            record = orjson.loads(body)
            if writer is None:
                writer = csv.DictWriter(handle, fieldnames=list(record))
                writer.writeheader()
            writer.writerow({k: _cell(v) for k, v in record.items()})
    return count


def _cell(value):
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else value
