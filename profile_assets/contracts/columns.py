"""Matching the column names of hand-made files ("E-mail", "First Name", "post code") to
canonical fields through the aliases the unified schema declares."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pandas as pd

from profile_assets.contracts.drift import DriftReport, detect_drift
from profile_assets.contracts.schema import SCHEMAS_DIR, load_source, load_unified
from profile_assets.normalizers import fold_key


@cache
def _alias_index(entity: str, schemas_dir: Path) -> dict[str, str]:
    index: dict[str, str] = {}
    for spec in load_unified(None, schemas_dir).entities[entity].fields.values():
        for alias in (spec.name, *spec.aliases):
            key = fold_key(alias)
            if index.setdefault(key, spec.name) != spec.name:
                raise ValueError(f"alias {alias!r} names both {index[key]!r} and {spec.name!r}")
    return index


def match_columns(
    columns: Iterable[str], entity: str = "person", schemas_dir: Path = SCHEMAS_DIR
) -> dict[str, str]:
    """Map the columns that name a canonical field of `entity` to it: {column: canonical}.

    Columns that match nothing are left out. Two columns naming the same field raise
    ValueError: guessing which one holds the data would silently drop the other.
    """
    index = _alias_index(entity, schemas_dir)
    matched: dict[str, str] = {}
    for column in columns:
        canonical = index.get(fold_key(column))
        if canonical is None:
            continue
        clash = next((c for c, f in matched.items() if f == canonical), None)
        if clash is not None:
            raise ValueError(f"columns {clash!r} and {column!r} both name {canonical!r}")
        matched[column] = canonical
    return matched


def to_unified_columns(
    source: str, df: pd.DataFrame, schemas_dir: Path = SCHEMAS_DIR
) -> tuple[pd.DataFrame, DriftReport]:
    """Drift-check an extract, then rename its mapped vendor columns to canonical names.

    Unmapped columns (vendor extras such as `lastmodifieddate`, and additive new ones) keep
    their names so staging can still read them.
    """
    report = detect_drift(source, df, schemas_dir)
    canonical = load_source(source, schemas_dir).canonical_names
    renames = {c: canonical[v] for c, v in report.column_map.items() if v in canonical}
    return df.rename(columns=renames), report
