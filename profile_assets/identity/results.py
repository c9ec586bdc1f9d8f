"""What a resolution returns (`ResolutionResult`), what a later incremental run reuses
(`ResolutionState`), and how progress is reported while it runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from profile_assets.identity import fellegi_sunter

IDENTITY_MAP_COLUMNS = [
    "source", "source_record_id", "profile_id", "match_rule", "match_probability", "evidence",
]  # fmt: skip


Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class ResolutionState:
    """What a full resolution learned that an incremental run reuses: the model (m, u,
    prior) and the share of same-full-name pairs that are chance. Value frequencies are
    recounted on every run (a bincount), so they always describe the current population."""

    model: fellegi_sunter.ModelParameters
    name_chance_share: float

    def to_json(self) -> str:
        return json.dumps(
            {"model": self.model.as_dict(), "name_chance_share": self.name_chance_share}
        )

    @classmethod
    def from_json(cls, text: str) -> ResolutionState:
        data = json.loads(text)
        return cls(fellegi_sunter.ModelParameters.from_dict(data["model"]),
                   float(data["name_chance_share"]))  # fmt: skip


@dataclass
class ResolutionResult:
    """identity_map: one row per input record, in input order (IDENTITY_MAP_COLUMNS).
    links: accepted links between records; refused_links: links a guard or conflict refused;
    events: merges/splits against the previous map; stats: counts, timings and the model;
    state: the model a later `resolve_incremental` reuses."""

    identity_map: pd.DataFrame
    links: pd.DataFrame
    refused_links: pd.DataFrame
    events: pd.DataFrame
    stats: dict = field(default_factory=dict)
    #: Records this run re-resolved (source, source_record_id); None when it resolved all.
    re_resolved: pd.DataFrame | None = None
    state: ResolutionState | None = None


PAIR_COLUMNS = ["left_source", "left_record_id", "right_source", "right_record_id"]


def empty_result() -> ResolutionResult:
    return ResolutionResult(
        identity_map=pd.DataFrame(columns=IDENTITY_MAP_COLUMNS),
        links=pd.DataFrame(columns=[*PAIR_COLUMNS, "probability", "forced"]),
        refused_links=pd.DataFrame(columns=[*PAIR_COLUMNS, "probability", "reason"]),
        events=pd.DataFrame(
            columns=["event", "profile_id", "related_profile_ids", "record_count", "reason"]
        ),  # fmt: skip
        stats={"records": 0, "profiles": 0},
    )


class Timer:
    def __init__(self, report: Progress) -> None:
        self.report, self.seconds, self.start = report, {}, time.perf_counter()

    def lap(self, stage: str, fraction: float) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self.start, 3)
        self.start = now
        self.report(stage, fraction)
