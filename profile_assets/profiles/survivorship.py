"""Survivorship: which source record supplies each attribute of a golden profile.

The rules are data (`schemas/survivorship.yaml`, reviewed), this module only runs them. Each
attribute (one or more columns that must come from the same record, like an address) picks one
winning record per profile by a rule -- most trusted source, most recent, most complete -- and
the golden row records that record as the attribute's provenance
(`provenance_<attribute>_source`, `provenance_<attribute>_record_id`).

Ranking is a sort over all records at once (no Python loop per profile), with a full
deterministic tie-break, so the same records always give the same profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from profile_assets.contracts.schema import SCHEMAS_DIR

RULES_PATH = SCHEMAS_DIR / "survivorship.yaml"
RULES = ("most_trusted_source", "most_recent", "most_complete")
#: Sort keys of each rule, most significant first; the rest break ties in this order.
_RANKING = {
    "most_trusted_source": ("_trust", "_recency", "_completeness"),
    "most_recent": ("_recency", "_trust", "_completeness"),
    "most_complete": ("_completeness", "_trust", "_recency"),
}
_TIE_BREAK = ("source", "source_record_id")


@dataclass(frozen=True)
class Attribute:
    name: str
    rule: str
    columns: tuple[str, ...]
    prefer: str | None = None

    @property
    def provenance_columns(self) -> tuple[str, str]:
        return (f"provenance_{self.name}_source", f"provenance_{self.name}_record_id")


@dataclass(frozen=True)
class SurvivorshipRules:
    version: int
    source_trust: tuple[str, ...]
    attributes: tuple[Attribute, ...]

    @property
    def value_columns(self) -> list[str]:
        return [c for a in self.attributes for c in a.columns]

    @property
    def provenance_columns(self) -> list[str]:
        return [c for a in self.attributes for c in a.provenance_columns]

    @property
    def prefer_columns(self) -> list[str]:
        return sorted({a.prefer for a in self.attributes if a.prefer})

    @classmethod
    def from_dict(cls, data: dict) -> SurvivorshipRules:
        attributes = []
        for name, spec in (data.get("attributes") or {}).items():
            rule = spec.get("rule")
            if rule not in RULES:
                raise ValueError(f"survivorship: {name}: rule {rule!r} not one of {RULES}")
            columns = tuple(spec.get("columns") or [name])
            attributes.append(Attribute(name, rule, columns, spec.get("prefer")))
        return cls(
            version=int(data.get("version", 1)),
            source_trust=tuple(data.get("source_trust") or ()),
            attributes=tuple(attributes),
        )


def load_rules(path: str | Path = RULES_PATH) -> SurvivorshipRules:
    return SurvivorshipRules.from_dict(yaml.safe_load(Path(path).read_text()))


def survive(records: pd.DataFrame, rules: SurvivorshipRules) -> pd.DataFrame:
    """One row per `profile_id`: each attribute's columns from its winning record, plus the
    winner's source and record id.

    `records`: staging contacts with a `profile_id` column (and `updated_at`). A profile
    without any value for an attribute gets nulls there (and no provenance).
    """
    profiles = pd.Index(np.sort(records["profile_id"].unique()), name="profile_id")
    trust = {source: rank for rank, source in enumerate(rules.source_trust)}
    ranked = records.assign(
        _trust=records["source"].map(trust).fillna(len(trust)).astype(int),
        # Newest first: sort ascending on the negated time; unknown times rank last.
        _recency=(-_epoch(records["updated_at"])).fillna(np.inf),
    )
    out = pd.DataFrame(index=profiles)
    for attribute in rules.attributes:
        winners = _winners(ranked, attribute).reindex(profiles)
        source_col, record_col = attribute.provenance_columns
        for column in attribute.columns:
            out[column] = winners[column]
        out[source_col] = winners["source"]
        out[record_col] = winners["source_record_id"]
    return out.reset_index()


def _winners(ranked: pd.DataFrame, attribute: Attribute) -> pd.DataFrame:
    """The winning record of each profile for one attribute, indexed by profile_id."""
    filled = ranked[list(attribute.columns)].notna()
    candidates = ranked[filled.any(axis=1)].assign(_completeness=-filled.sum(axis=1), _preferred=0)
    if attribute.prefer:
        preferred = candidates[attribute.prefer].eq(True)
        candidates["_preferred"] = (~preferred).astype(int)
    order = ["profile_id", "_preferred", *_RANKING[attribute.rule], *_TIE_BREAK]
    first = candidates.sort_values(order, kind="stable").drop_duplicates("profile_id")
    return first.set_index("profile_id")[[*attribute.columns, "source", "source_record_id"]]


def _epoch(times: pd.Series) -> pd.Series:
    """Timestamps as float microseconds (NaN when unknown), whatever their unit or zone."""
    parsed = pd.to_datetime(times, utc=True).astype("datetime64[us, UTC]")
    micros = parsed.astype("int64").astype("float64")
    return micros.where(parsed.notna())
