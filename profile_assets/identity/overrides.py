"""Manual must-link / never-link decisions, kept in a reviewed YAML file.

    must_link:
      - records: ["crm_contacts:51", "storefront_customers:123"]
        reason: confirmed by the customer on ticket 881
    never_link:
      - records: ["crm_contacts:51", {source: support_users, record_id: "9"}]
        reason: twins sharing an address

A record is "source:record_id" (split at the first colon) or a mapping with both keys. An
entry with more than two records means every pair of them. Never-link wins over must-link
and over any model evidence; unmerging a profile is a never-link entry, effective next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from profile_assets.identity.features import KEY_SEPARATOR


@dataclass(frozen=True)
class OverridePair:
    left: str
    right: str
    reason: str


@dataclass(frozen=True)
class Overrides:
    must_link: tuple[OverridePair, ...] = field(default_factory=tuple)
    never_link: tuple[OverridePair, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, data: dict | None) -> Overrides:
        data = data or {}
        unknown = set(data) - {"must_link", "never_link"}
        if unknown:
            raise ValueError(f"identity overrides: unknown sections {sorted(unknown)}")
        return cls(
            must_link=tuple(_pairs(data.get("must_link") or [], "must_link")),
            never_link=tuple(_pairs(data.get("never_link") or [], "never_link")),
        )


def load_overrides(path: str | Path) -> Overrides:
    """Overrides from a YAML file; a missing file means no overrides."""
    path = Path(path)
    if not path.exists():
        return Overrides()
    return Overrides.from_dict(yaml.safe_load(path.read_text()))


def _pairs(entries: list, section: str) -> list[OverridePair]:
    pairs = []
    for i, entry in enumerate(entries):
        records = entry.get("records") if isinstance(entry, dict) else entry
        if not isinstance(records, list) or len(records) < 2:
            raise ValueError(f"identity overrides: {section}[{i}] needs a list of >= 2 records")
        keys = [_record_key(r, f"{section}[{i}]") for r in records]
        reason = str(entry.get("reason", "")) if isinstance(entry, dict) else ""
        pairs += [OverridePair(a, b, reason) for a, b in combinations(keys, 2)]
    return pairs


def _record_key(record: object, where: str) -> str:
    if isinstance(record, dict) and {"source", "record_id"} <= set(record):
        return f"{record['source']}{KEY_SEPARATOR}{record['record_id']}"
    if isinstance(record, str) and ":" in record:
        source, _, record_id = record.partition(":")
        return f"{source}{KEY_SEPARATOR}{record_id}"
    raise ValueError(f"identity overrides: {where}: {record!r} is not 'source:record_id'")


def pair_indices(
    pairs: tuple[OverridePair, ...], record_keys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Record indices of the pairs whose both records are present; and how many were not."""
    index = pd.Index(record_keys)
    left = index.get_indexer([p.left for p in pairs]).astype(np.int64)
    right = index.get_indexer([p.right for p in pairs]).astype(np.int64)
    found = (left >= 0) & (right >= 0)
    return left[found], right[found], int((~found).sum())
