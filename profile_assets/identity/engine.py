"""Identity resolution facade: person records in, identity map (record -> profile) out.

    features -> frequency caps -> blocking -> comparisons -> EM (m, u, prior) -> scores
    -> accepted links (+ overrides) -> guarded clustering -> stable ids -> identity map

The same function serves the Dagster assets and the `profile-assets resolve` CLI. It never
sees ground truth; everything it needs is estimated on the records it is given.
`resolve_incremental` re-runs the tail of that pipeline (scores -> identity map) for the
records a change touches only, with the model (`ResolutionState`) of an earlier full run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from profile_assets.identity import blocking, clustering, evidence, fellegi_sunter
from profile_assets.identity.comparisons import (
    MISSING,
    Comparison,
    compare,
    default_comparisons,
    identity_conflict,
)
from profile_assets.identity.features import CodedField, Features, build_features, record_keys
from profile_assets.identity.overrides import Overrides, load_overrides, pair_indices
from profile_assets.identity.settings import ResolutionSettings
from profile_assets.identity.stable_ids import assign_profile_ids

DEFAULT_SOURCE = "records"
IDENTITY_MAP_COLUMNS = [
    "source", "source_record_id", "profile_id", "match_rule", "match_probability", "evidence",
]  # fmt: skip
IDENTIFIER_FIELDS = ("email", "phone", "link_id")
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
    timer = _Timer(progress or (lambda stage, fraction: None))
    prepared = _prepare(records, overrides, settings)
    if prepared is None:
        return _empty_result()
    features = prepared.features
    timer.lap("features", 0.15)

    candidates = blocking.candidate_pairs(
        features, settings.blocking_rules, settings.max_block_size
    )
    timer.lap("blocking", 0.3)

    comparisons = default_comparisons()
    gamma = compare(comparisons, features, candidates.left, candidates.right)
    timer.lap("comparisons", 0.55)

    model = _estimate(comparisons, features, gamma, settings)
    frequencies = fellegi_sunter.value_frequencies(comparisons, features)
    state = ResolutionState(
        model, fellegi_sunter.name_chance_share(model, comparisons, gamma, frequencies)
    )
    scores = _score(state, comparisons, frequencies, gamma, candidates.left, settings)
    timer.lap("scoring", 0.7)
    result = _resolve_scored(
        prepared, candidates, gamma, scores, state, _previous_ids(previous_map), settings, timer
    )
    result.identity_map = result.identity_map.iloc[np.argsort(prepared.order)].reset_index(
        drop=True
    )
    result.stats["re_resolved_records"] = features.n
    result.stats["scored_pairs"] = len(candidates.left)
    return result


def resolve_incremental(
    records: pd.DataFrame,
    changed_keys: pd.DataFrame,
    previous_map: pd.DataFrame,
    state: ResolutionState,
    *,
    overrides: Overrides | str | Path | None = None,
    settings: ResolutionSettings | None = None,
    progress: Progress | None = None,
) -> ResolutionResult:
    """Re-resolve only what changed since `previous_map` (the map of a run whose model is
    `state`): records in `changed_keys` (`source`, `record_id`: edited records), records
    absent from the previous map (new) and the previous profiles of records now gone.

    The affected set starts with those records and every record of their previous profiles,
    and grows to the previous profiles of any record they link to, until no link leaves it.
    Only candidate pairs touching it are scored, with the stored model and the current value
    frequencies; only it is re-clustered. Everything else keeps its previous row. Blocking
    and value frequencies still see every record, so that block-size caps and term
    frequencies are those of a full run. A full `resolve_records` gives the same profiles
    unless the change moves the model itself (then rebuild: new settings, new overrides).
    """
    settings = settings or ResolutionSettings()
    timer = _Timer(progress or (lambda stage, fraction: None))
    prepared = _prepare(records, overrides, settings)
    if prepared is None:
        return _empty_result()
    features = prepared.features
    previous = _previous_ids(previous_map)
    if previous is None:
        raise ValueError("an incremental run needs the previous identity map")
    keys = features.record_keys
    edited = record_keys(changed_keys["source"].astype(str), changed_keys["record_id"])
    # Previous profiles as integer codes (-1: a new record), so set operations are bincounts.
    prev_row = previous.index.get_indexer(keys)
    prev_code, prev_ids = pd.factorize(
        np.where(prev_row >= 0, previous.to_numpy(object)[prev_row], None)
    )
    # One hash table (the previous map's keys) serves every lookup: edited keys and the
    # records gone since are found through it.
    position = np.full(len(previous), -1, dtype=np.int64)
    position[prev_row[prev_row >= 0]] = np.nonzero(prev_row >= 0)[0]
    edited_rows = previous.index.get_indexer(edited)
    changed = prev_code < 0
    edited_positions = position[edited_rows[edited_rows >= 0]]
    changed[edited_positions[edited_positions >= 0]] = True
    gone = previous[position < 0]
    touched = np.zeros(len(prev_ids) + 1, dtype=bool)  # the extra slot is code -1
    touched[prev_code[changed]] = True
    touched[pd.Index(prev_ids).get_indexer(gone.unique())] = True
    touched[-1] = False
    affected = changed | touched[prev_code]
    timer.lap("features", 0.2)

    candidates = blocking.candidate_pairs(
        features, settings.blocking_rules, settings.max_block_size
    )
    must = pair_indices(prepared.overrides.must_link, keys)
    timer.lap("blocking", 0.4)

    frequencies = fellegi_sunter.value_frequencies(default_comparisons(), features)
    affected, scored = _grow_affected(
        affected, touched, prev_code, features, candidates, must[:2],
        lambda left, right: _score_pairs(state, frequencies, features, left, right, settings),
        settings.link_threshold,
    )  # fmt: skip
    timer.lap("scoring", 0.7)

    rows = np.nonzero(affected)[0]
    sub_prepared, sub_candidates, sub_gamma, sub_scores = _subproblem(
        prepared, candidates, scored, rows
    )
    sub_previous = previous[previous.isin(set(prev_ids[touched[:-1]]) | set(gone))]
    result = _resolve_scored(
        sub_prepared, sub_candidates, sub_gamma, sub_scores, state, sub_previous, settings, timer
    )
    result.identity_map = _carried_forward(
        previous_map, prev_row, affected, result.identity_map, np.argsort(prepared.order)
    )
    result.re_resolved = sub_prepared.records[["source", "record_id"]].rename(
        columns={"record_id": "source_record_id"}
    )
    result.stats |= {
        "records": features.n,
        "profiles": int(result.identity_map["profile_id"].nunique()),
        "re_resolved_records": len(rows),
        "scored_pairs": len(scored.pairs),
        "candidate_pairs": len(candidates.left),
    }
    return result


@dataclass(frozen=True)
class _Prepared:
    """Validated records in record-key order (`order`: input row of each), their features
    (with shared identifier values removed) and the overrides."""

    records: pd.DataFrame
    order: np.ndarray
    features: Features
    overrides: Overrides
    capped: dict[str, int]
    shared: dict[str, int]


def _prepare(
    records: pd.DataFrame,
    overrides: Overrides | str | Path | None,
    settings: ResolutionSettings,
) -> _Prepared | None:
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
    return _Prepared(records, order, features, overrides or Overrides(), capped, shared)


@dataclass(frozen=True)
class _Scores:
    weights: np.ndarray
    log2_odds: np.ndarray
    probability: np.ndarray


def _score(
    state: ResolutionState,
    comparisons: tuple[Comparison, ...],
    frequencies: fellegi_sunter.ValueFrequencies,
    gamma: np.ndarray,
    left: np.ndarray,
    settings: ResolutionSettings,
) -> _Scores:
    weights = fellegi_sunter.field_weights(
        state.model, comparisons, frequencies, gamma, left, settings.term_frequency_fields,
        state.name_chance_share,
    )  # fmt: skip
    log2_odds = state.model.prior_weight() + weights.sum(axis=1)
    return _Scores(weights, log2_odds, fellegi_sunter.probability(log2_odds))


@dataclass(frozen=True)
class _PairScores:
    """Scores of the candidate pairs (by index) an incremental run has looked at so far."""

    pairs: np.ndarray
    gamma: np.ndarray
    scores: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    def empty(cls, width: int) -> _PairScores:
        return cls(np.zeros(0, np.int64), np.zeros((0, width), np.int8),
                   (np.zeros((0, width)), np.zeros(0), np.zeros(0)))  # fmt: skip

    def extend(self, pairs: np.ndarray, gamma: np.ndarray, scores: _Scores) -> _PairScores:
        new = (scores.weights, scores.log2_odds, scores.probability)
        return _PairScores(
            np.concatenate([self.pairs, pairs]),
            np.concatenate([self.gamma, gamma.astype(self.gamma.dtype)]),
            tuple(np.concatenate([a, b]) for a, b in zip(self.scores, new, strict=True)),
        )


def _carried_forward(
    previous_map: pd.DataFrame,
    prev_row: np.ndarray,
    affected: np.ndarray,
    resolved: pd.DataFrame,
    to_input: np.ndarray,
) -> pd.DataFrame:
    """The identity map in input order: previous rows (`prev_row`: row of each record in
    `previous_map`) for unaffected records, `resolved` rows (in record order) for the rest."""
    kept = ~affected
    stacked = pd.concat(
        [previous_map[IDENTITY_MAP_COLUMNS].iloc[prev_row[kept]], resolved[IDENTITY_MAP_COLUMNS]],
        ignore_index=True,
    )
    row = np.empty(len(affected), dtype=np.int64)
    row[kept] = np.arange(int(kept.sum()))
    row[affected] = int(kept.sum()) + np.arange(int(affected.sum()))
    return stacked.iloc[row[to_input]].reset_index(drop=True)


def _score_pairs(
    state: ResolutionState,
    frequencies: fellegi_sunter.ValueFrequencies,
    features: Features,
    left: np.ndarray,
    right: np.ndarray,
    settings: ResolutionSettings,
) -> tuple[np.ndarray, _Scores]:
    comparisons = default_comparisons()
    gamma = compare(comparisons, features, left, right)
    return gamma, _score(state, comparisons, frequencies, gamma, left, settings)


def _grow_affected(
    affected: np.ndarray,
    touched: np.ndarray,
    prev_code: np.ndarray,
    features: Features,
    candidates: blocking.Candidates,
    must: tuple[np.ndarray, np.ndarray],
    score: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, _Scores]],
    link_threshold: float,
) -> tuple[np.ndarray, _PairScores]:
    """Grow the affected records until no link (scored above the threshold, or a must-link)
    leaves them: a partner joins with every record of its previous profile (`prev_code`;
    `touched` marks those profiles, in place, its last slot standing for "no profile").
    Scores each candidate pair touching the set once."""
    scored = _PairScores.empty(len(default_comparisons()))
    done = np.zeros(len(candidates.left), dtype=bool)
    while True:
        touching = affected[candidates.left] | affected[candidates.right]
        todo = np.nonzero(touching & ~done)[0]
        done[todo] = True
        scored = scored.extend(todo, *score(candidates.left[todo], candidates.right[todo]))
        linked = scored.pairs[scored.scores[2] >= link_threshold]
        reached = affected.copy()
        reached[np.concatenate([candidates.left[linked], candidates.right[linked], *must])] = True
        touched[prev_code[reached]] = True
        touched[-1] = False
        grown = reached | touched[prev_code]
        if (grown == affected).all():
            return affected, scored
        affected = grown


def _subproblem(
    prepared: _Prepared, candidates: blocking.Candidates, scored: _PairScores, rows: np.ndarray
) -> tuple[_Prepared, blocking.Candidates, np.ndarray, _Scores]:
    """The records `rows` (sorted) as a problem of their own, with the scored candidate
    pairs between them renumbered (order kept: renumbering is monotonic)."""
    position = np.full(prepared.features.n, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    inside = (position[candidates.left[scored.pairs]] >= 0) & (
        position[candidates.right[scored.pairs]] >= 0
    )
    keep = np.nonzero(inside)[0]
    keep = keep[np.argsort(scored.pairs[keep], kind="stable")]
    pairs = scored.pairs[keep]
    features = Features(
        prepared.features.record_keys[rows],
        {name: CodedField(f.codes[rows], f.values) for name, f in prepared.features.fields.items()},
    )
    sub = _Prepared(
        prepared.records.iloc[rows].reset_index(drop=True), np.arange(len(rows)), features,
        prepared.overrides, prepared.capped, prepared.shared,
    )  # fmt: skip
    sub_candidates = blocking.Candidates(
        left=position[candidates.left[pairs]],
        right=position[candidates.right[pairs]],
        rule_mask=candidates.rule_mask[pairs],
        rule_names=candidates.rule_names,
        pairs_per_rule=candidates.pairs_per_rule,
        skipped_blocks_per_rule=candidates.skipped_blocks_per_rule,
    )
    weights, log2_odds, probability = (a[keep] for a in scored.scores)
    return sub, sub_candidates, scored.gamma[keep], _Scores(weights, log2_odds, probability)


def _resolve_scored(
    prepared: _Prepared,
    candidates: blocking.Candidates,
    gamma: np.ndarray,
    scores: _Scores,
    state: ResolutionState,
    previous: pd.Series | None,
    settings: ResolutionSettings,
    timer: _Timer,
) -> ResolutionResult:
    """Scored candidates -> links -> guarded clusters -> stable ids -> identity map (in
    record-key order)."""
    records, features, overrides = prepared.records, prepared.features, prepared.overrides
    comparisons = default_comparisons()
    links, refused_pairs = _links(comparisons, candidates, gamma, scores.probability, settings)
    must = pair_indices(overrides.must_link, features.record_keys)
    never = pair_indices(overrides.never_link, features.record_keys)
    links = _with_must_links(links, must[:2])
    guards = clustering.Guards(
        settings.max_cluster_size, settings.max_emails_per_profile, settings.max_phones_per_profile
    )
    clusters = clustering.cluster(features, links, never[:2], guards)
    timer.lap("clustering", 0.85)

    refused = pd.concat([f for f in (refused_pairs, clusters.refused) if len(f)] or [refused_pairs],
                        ignore_index=True)  # fmt: skip
    profile_ids, events = assign_profile_ids(features.record_keys, clusters.labels, previous)
    events = _with_reasons(events, refused, features, previous)
    identity_map = _identity_map(
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
        links=_link_frame(records, links),
        refused_links=_refused_frame(records, refused),
        events=events,
        stats=stats,
        state=state,
    )


def _empty_result() -> ResolutionResult:
    pair_columns = ["left_source", "left_record_id", "right_source", "right_record_id"]
    return ResolutionResult(
        identity_map=pd.DataFrame(columns=IDENTITY_MAP_COLUMNS),
        links=pd.DataFrame(columns=[*pair_columns, "probability", "forced"]),
        refused_links=pd.DataFrame(columns=[*pair_columns, "probability", "reason"]),
        events=pd.DataFrame(
            columns=["event", "profile_id", "related_profile_ids", "record_count", "reason"]
        ),  # fmt: skip
        stats={"records": 0, "profiles": 0},
    )


class _Timer:
    def __init__(self, report: Progress) -> None:
        self.report, self.seconds, self.start = report, {}, time.perf_counter()

    def lap(self, stage: str, fraction: float) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self.start, 3)
        self.start = now
        self.report(stage, fraction)


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


def _estimate(
    comparisons: tuple[Comparison, ...],
    features: Features,
    gamma: np.ndarray,
    settings: ResolutionSettings,
) -> fellegi_sunter.ModelParameters:
    n = features.n
    # Enough random pairs to see chance agreement at the rates that matter (~1e-4) without
    # the sample dwarfing a small data set; all pairs when there are fewer. Drawn by record
    # key, not position, so that adding records does not re-draw everyone else's sample.
    sample = min(settings.u_sample_pairs, max(20 * n, 20_000))
    left, right = fellegi_sunter.hashed_pairs(features.record_keys, sample)
    random_gamma = compare(comparisons, features, left, right)
    chance = fellegi_sunter.chance_agreement(comparisons, features, random_gamma)
    return fellegi_sunter.estimate(
        comparisons,
        gamma,
        chance,
        n,
        max_iterations=settings.em_max_iterations,
        tolerance=settings.em_tolerance,
    )


def _links(
    comparisons: tuple[Comparison, ...],
    candidates: blocking.Candidates,
    gamma: np.ndarray,
    probability: np.ndarray,
    settings: ResolutionSettings,
) -> tuple[clustering.Links, pd.DataFrame]:
    """Pairs above the link threshold; a pair whose own strong identifiers conflict (different
    birth dates or link ids) is accepted only as a strong link."""
    level = {c.name: gamma[:, k] for k, c in enumerate(comparisons)}
    strong = probability >= settings.strong_link_threshold
    dob_conflict = level["dob"] == 0
    link_conflict = level["link_id"] == 0
    conflict = dob_conflict | link_conflict
    above = probability >= settings.link_threshold
    accepted = above & (~conflict | strong)
    refused_idx = np.nonzero(above & ~accepted)[0]
    refused = pd.DataFrame(
        {
            "left": candidates.left[refused_idx],
            "right": candidates.right[refused_idx],
            "probability": probability[refused_idx],
            "reason": np.where(
                dob_conflict[refused_idx],
                clustering.REASON_DOB,
                clustering.REASON_LINK,
            ),
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


def _with_must_links(
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


def _previous_ids(previous_map: pd.DataFrame | None) -> pd.Series | None:
    if previous_map is None or previous_map.empty:
        return None
    keys = record_keys(previous_map["source"], previous_map["source_record_id"])
    return pd.Series(previous_map["profile_id"].to_numpy(), index=keys, dtype=object)


def _with_reasons(
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


def _identity_map(
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


def _link_frame(records: pd.DataFrame, links: clustering.Links) -> pd.DataFrame:
    return _pair_frame(records, links.left, links.right, {
        "probability": links.probability, "forced": links.forced,
    })  # fmt: skip


def _refused_frame(records: pd.DataFrame, refused: pd.DataFrame) -> pd.DataFrame:
    return _pair_frame(records, refused["left"].to_numpy(np.int64),
                       refused["right"].to_numpy(np.int64),
                       {"probability": refused["probability"].to_numpy(),
                        "reason": refused["reason"].to_numpy()})  # fmt: skip


def _pair_frame(records: pd.DataFrame, left: np.ndarray, right: np.ndarray, extra: dict):
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
