"""Scored pairs -> profiles: accepted links (conflicts need a strong link), must-links,
guarded clustering, stable ids and the identity map, shared by full and incremental runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profile_assets.identity import blocking, clustering
from profile_assets.identity.comparisons import (
    DOB_LEVELS,
    Comparison,
    default_comparisons,
)
from profile_assets.identity.features import Features
from profile_assets.identity.identity_map import (
    build_identity_map,
    link_frame,
    refused_frame,
    with_reasons,
)
from profile_assets.identity.overrides import pair_indices
from profile_assets.identity.preparation import Prepared
from profile_assets.identity.results import ResolutionResult, ResolutionState, Timer
from profile_assets.identity.scoring import Scores
from profile_assets.identity.settings import ResolutionSettings
from profile_assets.identity.stable_ids import assign_profile_ids


def resolve_scored(
    prepared: Prepared,
    candidates: blocking.Candidates,
    gamma: np.ndarray,
    scores: Scores,
    state: ResolutionState,
    previous: pd.Series | None,
    settings: ResolutionSettings,
    timer: Timer,
) -> ResolutionResult:
    """Scored candidates -> links -> guarded clusters -> stable ids -> identity map (in
    record-key order)."""
    records, features, overrides = prepared.records, prepared.features, prepared.overrides
    comparisons = default_comparisons()
    links, refused_pairs = accepted_links(
        comparisons, features, candidates, gamma, scores.probability, settings
    )
    must = pair_indices(overrides.must_link, features.record_keys)
    never = pair_indices(overrides.never_link, features.record_keys)
    links = with_must_links(links, must[:2])
    guards = clustering.Guards(
        settings.max_cluster_size, settings.max_emails_per_profile, settings.max_phones_per_profile
    )
    clusters = clustering.cluster(features, links, never[:2], guards)
    timer.lap("clustering", 0.85)

    refused = pd.concat([f for f in (refused_pairs, clusters.refused) if len(f)] or [refused_pairs],
                        ignore_index=True)  # fmt: skip
    profile_ids, events = assign_profile_ids(features.record_keys, clusters.labels, previous)
    events = with_reasons(events, refused, features, previous)
    identity_map = build_identity_map(
        records, features, comparisons, candidates, gamma, scores.weights, scores.log2_odds,
        scores.probability, links, clusters.labels, profile_ids, state.model.prior_weight(),
    )  # fmt: skip
    timer.lap("identity_map", 1.0)

    stats = {
        "records": features.n,
        "profiles": int(identity_map["profile_id"].nunique()),
        "candidate_pairs": len(candidates.left),
        "pairs_per_rule": candidates.pairs_per_rule,
        "skipped_blocks_per_rule": candidates.skipped_blocks_per_rule,
        "frequent_identifier_values_removed": prepared.capped,
        "shared_identifier_values_removed": prepared.shared,
        "links_accepted": int((~links.forced).sum()),
        "must_links": int(links.forced.sum()),
        "never_links": len(never[0]),
        "overrides_not_found": must[2] + never[2],
        "links_refused": refused["reason"].value_counts().to_dict(),
        "guarded_components": clusters.guarded_components,
        "largest_profile": int(np.bincount(clusters.labels).max()) if features.n else 0,
        "model": state.model.as_dict(),
        "seconds": timer.seconds,
    }
    return ResolutionResult(
        identity_map=identity_map,
        links=link_frame(records, links),
        refused_links=refused_frame(records, refused),
        events=events,
        stats=stats,
        state=state,
    )


def accepted_links(
    comparisons: tuple[Comparison, ...],
    features: Features,
    candidates: blocking.Candidates,
    gamma: np.ndarray,
    probability: np.ndarray,
    settings: ResolutionSettings,
) -> tuple[clustering.Links, pd.DataFrame]:
    """Pairs above the link threshold; a pair whose own identifiers conflict (different birth
    dates or link ids) is accepted only as a strong link, and one whose first names are
    clearly different is accepted only when the birth dates agree."""
    level = {c.name: gamma[:, k] for k, c in enumerate(comparisons)}
    strong = probability >= settings.strong_link_threshold
    above = probability >= settings.link_threshold
    reason = np.full(len(probability), None, dtype=object)
    # A different first name without the same birth date: what such pairs share (surname,
    # address, phone) is what a household shares, and the model, which multiplies those as
    # if independent, overrates it; so no score bridges this conflict.
    same_birth = level["dob"] >= DOB_LEVELS.index("day_month_swapped")
    household = (level["first_name"] == 0) & ~same_birth
    reason[household] = clustering.REASON_FIRST_NAME
    reason[level["link_id"] == 0] = clustering.REASON_LINK
    reason[level["dob"] == 0] = clustering.REASON_DOB
    accepted = above & ((reason == None) | (strong & ~household))  # noqa: E711 (elementwise)
    refused_idx = np.nonzero(above & ~accepted)[0]
    refused = pd.DataFrame(
        {
            "left": candidates.left[refused_idx],
            "right": candidates.right[refused_idx],
            "probability": probability[refused_idx],
            "reason": reason[refused_idx],
        }
    )
    idx = np.nonzero(accepted)[0]
    links = clustering.Links(
        left=candidates.left[idx],
        right=candidates.right[idx],
        probability=probability[idx],
        strong=strong[idx],
        forced=np.zeros(len(idx), dtype=bool),
        pair_index=idx,
    )
    return links, refused


def with_must_links(
    links: clustering.Links, must: tuple[np.ndarray, np.ndarray]
) -> clustering.Links:
    left, right = np.minimum(*must), np.maximum(*must)
    count = len(left)
    return clustering.Links(
        left=np.concatenate([links.left, left]),
        right=np.concatenate([links.right, right]),
        probability=np.concatenate([links.probability, np.ones(count)]),
        strong=np.concatenate([links.strong, np.ones(count, dtype=bool)]),
        forced=np.concatenate([links.forced, np.ones(count, dtype=bool)]),
        pair_index=np.concatenate([links.pair_index, np.full(count, -1, dtype=np.int64)]),
    )
