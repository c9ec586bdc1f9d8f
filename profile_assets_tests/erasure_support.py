"""Scans an erasure test runs: every warehouse table, and every byte under a directory."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq

from profile_assets.warehouse import Warehouse

SCHEMAS_SKIPPED = ("information_schema", "pg_catalog")


def occurrences(warehouse: Warehouse, needles: set[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a text rendering of the column holds a needle as a
    whole token (not inside a longer address or name), in every table of the warehouse."""
    hits = []
    lowered = sorted({n.lower() for n in needles})
    with warehouse.connection() as conn:
        tables = conn.query_df(
            "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables "
            f"WHERE table_schema NOT IN {SCHEMAS_SKIPPED}"
        )["t"]
        for table in tables:
            for column in conn.columns(table):
                text = f'lower(CAST("{column}" AS VARCHAR))'
                for needle in lowered:
                    found = conn.query_df(
                        f"SELECT {text} AS v FROM {table} WHERE contains({text}, ?)", [needle]
                    )["v"]
                    token = re.compile(rf"(?<![\w.+-]){re.escape(needle)}(?![\w.-])")
                    if any(token.search(v) for v in found):
                        hits.append((table, column, needle))
    return hits


def byte_hits(
    root: Path, needles: set[str], *, skip: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """(file, needle) for every file under `root` whose bytes hold a needle, case-insensitive,
    as UTF-8, UTF-16 or cp1252; Parquet files are also read, as their pages are compressed."""
    hits = []
    encoded = {
        n: {n.lower().encode(enc, errors="ignore") for enc in ("utf-8", "utf-16-le", "cp1252")}
        for n in needles
    }
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if any(part in skip for part in path.relative_to(root).parts):
            continue
        data = path.read_bytes().lower()
        if path.suffix == ".parquet":
            table = pq.read_table(path).to_pandas().astype(str)
            data += table.to_csv(index=False).lower().encode()
        for needle, forms in encoded.items():
            if any(form and form in data for form in forms):
                hits.append((str(path.relative_to(root)), needle))
    return hits
