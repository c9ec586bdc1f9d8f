"""Incremental resolution: re-resolve only the records a change touches, with the model of
an earlier full run, and carry every other record's row forward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from profile_assets.identity import blocking, fellegi_sunter
from profile_assets.identity.comparisons import default_comparisons
from profile_assets.identity.features import CodedField, Features, record_keys
from profile_assets.identity.linking import resolve_scored
from profile_assets.identity.overrides import Overrides, pair_indices
from profile_assets.identity.preparation import Prepared, prepare, previous_ids
from profile_assets.identity.results import (
    IDENTITY_MAP_COLUMNS,
    Progress,
    ResolutionResult,
    ResolutionState,
    Timer,
    empty_result,
)
from profile_assets.identity.scoring import Scores, score_pairs
from profile_assets.identity.settings import ResolutionSettings


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
    timer = Timer(progress or (lambda stage, fraction: None))
    prepared = prepare(records, overrides, settings)
    if prepared is None:
        return empty_result()
    features = prepared.features
    previous = previous_ids(previous_map)
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
        lambda left, right: score_pairs(state, frequencies, features, left, right, settings),
        settings.link_threshold,
    )  # fmt: skip
    timer.lap("scoring", 0.7)

    rows = np.nonzero(affected)[0]
    sub_prepared, sub_candidates, sub_gamma, sub_scores = _subproblem(
        prepared, candidates, scored, rows
    )
    sub_previous = previous[previous.isin(set(prev_ids[touched[:-1]]) | set(gone))]
    result = resolve_scored(
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
class _PairScores:
    """Scores of the candidate pairs (by index) an incremental run has looked at so far."""

    pairs: np.ndarray
    gamma: np.ndarray
    scores: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    def empty(cls, width: int) -> _PairScores:
        return cls(np.zeros(0, np.int64), np.zeros((0, width), np.int8),
                   (np.zeros((0, width)), np.zeros(0), np.zeros(0)))  # fmt: skip

    def extend(self, pairs: np.ndarray, gamma: np.ndarray, scores: Scores) -> _PairScores:
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


def _grow_affected(
    affected: np.ndarray,
    touched: np.ndarray,
    prev_code: np.ndarray,
    features: Features,
    candidates: blocking.Candidates,
    must: tuple[np.ndarray, np.ndarray],
    score: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, Scores]],
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
    prepared: Prepared, candidates: blocking.Candidates, scored: _PairScores, rows: np.ndarray
) -> tuple[Prepared, blocking.Candidates, np.ndarray, Scores]:
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
    sub = Prepared(
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
    return sub, sub_candidates, scored.gamma[keep], Scores(weights, log2_odds, probability)
