"""Full identity resolution: person records in, identity map (record -> profile) out.

    features -> frequency caps -> blocking -> comparisons -> EM (m, u, prior) -> scores
    -> accepted links (+ overrides) -> guarded clustering -> stable ids -> identity map

The same function serves the Dagster assets and the `profile-assets resolve` CLI. It never
sees ground truth; everything it needs is estimated on the records it is given. The stages
live in their own modules: `preparation` (records -> features), `blocking`, `comparisons`,
`scoring` (EM and weights), `linking` (links -> clusters -> map), `identity_map` (published
frames), `results`; `incremental.resolve_incremental` re-runs the tail of the pipeline for
the records a change touches, with the model (`ResolutionState`) of an earlier full run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from profile_assets.identity import blocking, fellegi_sunter
from profile_assets.identity.comparisons import (
    compare,
    default_comparisons,
)
from profile_assets.identity.identity_map import pair_frame
from profile_assets.identity.linking import resolve_scored
from profile_assets.identity.overrides import Overrides
from profile_assets.identity.preparation import prepare, previous_ids
from profile_assets.identity.results import (
    PAIR_COLUMNS,
    Progress,
    ResolutionResult,
    ResolutionState,
    Timer,
    empty_result,
)
from profile_assets.identity.scoring import estimate, score
from profile_assets.identity.settings import ResolutionSettings


def resolve_records(
    records: pd.DataFrame,
    *,
    previous_map: pd.DataFrame | None = None,
    overrides: Overrides | str | Path | None = None,
    settings: ResolutionSettings | None = None,
    progress: Progress | None = None,
) -> ResolutionResult:
    """Resolve canonical person records into profiles.

    `records`: `record_id` (required), `source` (optional), any of the canonical person
    fields (`features.PERSON_FIELDS`) and optionally `link_id`. `previous_map`: an earlier
    identity map (`source`, `source_record_id`, `profile_id`) whose ids are carried forward.
    `overrides`: an `Overrides` or the path of the reviewed overrides YAML. The result's
    `state` lets `resolve_incremental` reuse this run's model.
    """
    settings = settings or ResolutionSettings()
    timer = Timer(progress or (lambda stage, fraction: None))
    prepared = prepare(records, overrides, settings)
    if prepared is None:
        return empty_result()
    features = prepared.features
    timer.lap("features", 0.15)

    candidates = blocking.candidate_pairs(
        features, settings.blocking_rules, settings.max_block_size
    )
    timer.lap("blocking", 0.3)

    comparisons = default_comparisons()
    gamma = compare(comparisons, features, candidates.left, candidates.right)
    timer.lap("comparisons", 0.55)

    model = estimate(comparisons, features, gamma, settings)
    frequencies = fellegi_sunter.value_frequencies(comparisons, features)
    state = ResolutionState(
        model, fellegi_sunter.name_chance_share(model, comparisons, gamma, frequencies)
    )
    scores = score(state, comparisons, frequencies, gamma, candidates.left, settings)
    timer.lap("scoring", 0.7)
    result = resolve_scored(
        prepared, candidates, gamma, scores, state, previous_ids(previous_map), settings, timer
    )
    result.identity_map = result.identity_map.iloc[np.argsort(prepared.order)].reset_index(
        drop=True
    )
    result.stats["re_resolved_records"] = features.n
    result.stats["scored_pairs"] = len(candidates.left)
    return result


def candidate_record_pairs(
    records: pd.DataFrame, settings: ResolutionSettings | None = None
) -> pd.DataFrame:
    """The candidate pairs blocking finds (left/right `source`, `record_id`), without scoring:
    blocking recall is measured on these apart from the model's decisions."""
    settings = settings or ResolutionSettings()
    prepared = prepare(records, None, settings)
    if prepared is None:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    found = blocking.candidate_pairs(
        prepared.features, settings.blocking_rules, settings.max_block_size
    )
    return pair_frame(prepared.records, found.left, found.right, {})
