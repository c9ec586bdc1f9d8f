"""The published frames of a resolution: the identity map with each record's evidence,
the link frames, and the reasons of merges and splits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profile_assets.identity import blocking, clustering, evidence
from profile_assets.identity.comparisons import MISSING, Comparison
from profile_assets.identity.features import Features


def build_identity_map(
    records: pd.DataFrame,
    features: Features,
    comparisons: tuple[Comparison, ...],
    candidates: blocking.Candidates,
    gamma: np.ndarray,
    weights: np.ndarray,
    log2_odds: np.ndarray,
    probability: np.ndarray,
    links: clustering.Links,
    labels: np.ndarray,
    profile_ids: np.ndarray,
    prior_weight: float,
) -> pd.DataFrame:
    n = features.n
    best_link, partner = evidence.best_link_per_record(
        n, links.left, links.right, links.probability, labels
    )
    has = best_link >= 0
    pair = np.full(n, -1, dtype=np.int64)
    pair[has] = links.pair_index[best_link[has]]
    modelled = pair >= 0
    rule = np.full(n, evidence.RULE_SINGLETON, dtype=object)
    rule[has] = evidence.RULE_MUST_LINK
    rule[modelled] = evidence.RULE_MODEL
    match_probability = np.ones(n)
    match_probability[modelled] = probability[pair[modelled]]
    sources, ids = records["source"].to_numpy(object), records["record_id"].to_numpy(object)
    rows = np.nonzero(modelled)[0]
    field_levels, field_weights = {}, {}
    for k, comparison in enumerate(comparisons):
        levels = gamma[pair[rows], k]
        names = np.array(comparison.level_names, dtype=object)[np.maximum(levels, 0)]
        field_levels[comparison.name] = np.where(levels == MISSING, None, names)
        field_weights[comparison.name] = weights[pair[rows], k]
    masks, mask_codes = np.unique(candidates.rule_mask[pair[rows]], return_inverse=True)
    blocked_on = np.array([",".join(candidates.rules_of(int(m))) for m in masks], dtype=object)
    blocked_on = blocked_on[mask_codes] if len(rows) else np.array([], dtype=object)
    rendered = evidence.render_evidence(
        sources[partner[rows]], ids[partner[rows]], probability[pair[rows]],
        log2_odds[pair[rows]], blocked_on, field_levels, field_weights, prior_weight,
    )  # fmt: skip
    evidence_json = np.full(n, "{}", dtype=object)
    evidence_json[rows] = rendered
    must_rows = np.nonzero(has & ~modelled)[0]
    evidence_json[must_rows] = [
        f'{{"must_link": {{"source": "{sources[p]}", "record_id": "{ids[p]}"}}}}'
        for p in partner[must_rows]
    ]
    return pd.DataFrame(
        {
            "source": sources,
            "source_record_id": ids,
            "profile_id": profile_ids,
            "match_rule": rule,
            "match_probability": match_probability,
            "evidence": evidence_json,
        }
    )


def with_reasons(
    events: pd.DataFrame, refused: pd.DataFrame, features: Features, previous: pd.Series | None
) -> pd.DataFrame:
    """Why each merge/split happened: splits name the guard that refused a link between
    records of the old profile, if any; otherwise its links fell below the threshold."""
    out = events.copy()
    out["reason"] = np.where(out["event"] == "merge", "linked above threshold", "")
    if previous is not None and len(refused):
        old = previous.reindex(features.record_keys).to_numpy()
        same_old = old[refused["left"].to_numpy()] == old[refused["right"].to_numpy()]
        by_profile = (
            pd.DataFrame({"prev": old[refused["left"].to_numpy()], "reason": refused["reason"]})[
                same_old
            ]
            .groupby("prev")["reason"]
            .agg(lambda r: ",".join(sorted(set(r))))
        )
        split = out["event"] == "split"
        out.loc[split, "reason"] = out.loc[split, "profile_id"].map(by_profile)
    out.loc[(out["event"] == "split") & (out["reason"].fillna("") == ""), "reason"] = (
        "links no longer above threshold"
    )
    return out.drop(columns=["label"])


def link_frame(records: pd.DataFrame, links: clustering.Links) -> pd.DataFrame:
    return pair_frame(records, links.left, links.right, {
        "probability": links.probability, "forced": links.forced,
    })  # fmt: skip


def refused_frame(records: pd.DataFrame, refused: pd.DataFrame) -> pd.DataFrame:
    return pair_frame(records, refused["left"].to_numpy(np.int64),
                       refused["right"].to_numpy(np.int64),
                       {"probability": refused["probability"].to_numpy(),
                        "reason": refused["reason"].to_numpy()})  # fmt: skip


def pair_frame(records: pd.DataFrame, left: np.ndarray, right: np.ndarray, extra: dict):
    sources, ids = records["source"].to_numpy(object), records["record_id"].to_numpy(object)
    return pd.DataFrame(
        {
            "left_source": sources[left],
            "left_record_id": ids[left],
            "right_source": sources[right],
            "right_record_id": ids[right],
            **extra,
        }
    )
