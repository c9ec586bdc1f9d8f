"""Records in, features out: validation, record-key order, match keys with shared and
frequent identifier values removed, and the previous map as ids by record key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from profile_assets.identity import blocking
from profile_assets.identity.comparisons import identity_conflict
from profile_assets.identity.features import Features, build_features, record_keys
from profile_assets.identity.overrides import Overrides, load_overrides
from profile_assets.identity.settings import ResolutionSettings

DEFAULT_SOURCE = "records"


IDENTIFIER_FIELDS = ("email", "phone", "link_id")


@dataclass(frozen=True)
class Prepared:
    """Validated records in record-key order (`order`: input row of each), their features
    (with shared identifier values removed) and the overrides."""

    records: pd.DataFrame
    order: np.ndarray
    features: Features
    overrides: Overrides
    capped: dict[str, int]
    shared: dict[str, int]


def prepare(
    records: pd.DataFrame,
    overrides: Overrides | str | Path | None,
    settings: ResolutionSettings,
) -> Prepared | None:
    records = _validated(records)
    if records.empty:
        return None
    # Work in record-key order so that the same records in any order give the same result
    # (tie-breaks are positional); maps go back to input order.
    order = np.argsort(record_keys(records["source"], records["record_id"]), kind="stable")
    records = records.iloc[order].reset_index(drop=True)
    if isinstance(overrides, str | Path):
        overrides = load_overrides(overrides)
    features = build_features(records)
    capped = blocking.cap_frequent_values(
        features, IDENTIFIER_FIELDS, settings.max_records_per_identifier
    )
    shared = blocking.drop_shared_values(
        features, ("email", "phone"), settings.max_records_per_identifier, identity_conflict
    )
    return Prepared(records, order, features, overrides or Overrides(), capped, shared)


def _validated(records: pd.DataFrame) -> pd.DataFrame:
    if "record_id" not in records.columns:
        raise ValueError("records need a `record_id` column")
    if records["record_id"].isna().any():
        raise ValueError("records have an empty `record_id`")
    out = records.reset_index(drop=True).copy()
    if "source" not in out.columns:
        out["source"] = DEFAULT_SOURCE
    out["source"] = out["source"].fillna(DEFAULT_SOURCE).astype(str)
    out["record_id"] = out["record_id"].astype(str)
    duplicated = out.duplicated(["source", "record_id"])
    if duplicated.any():
        examples = out.loc[duplicated, "record_id"].head(5).tolist()
        raise ValueError(f"duplicate record ids within a source: {examples}")
    return out


def previous_ids(previous_map: pd.DataFrame | None) -> pd.Series | None:
    if previous_map is None or previous_map.empty:
        return None
    keys = record_keys(previous_map["source"], previous_map["source_record_id"])
    return pd.Series(previous_map["profile_id"].to_numpy(), index=keys, dtype=object)
