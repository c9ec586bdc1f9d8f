"""Candidate pairs: records that agree exactly on at least one blocking rule's keys.

Blocking is a sort over integer codes (no string joins): per rule, records are grouped by
their combined key and every pair inside a group becomes a candidate, unless the group is
larger than the block-size cap — such groups are namesakes or shared values, and their pair
count would grow quadratically with the data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from profile_assets.identity.features import Features, combined_key


@dataclass(frozen=True)
class Candidates:
    """Unique pairs (left < right) and, per pair, a bit mask of the rules that produced it."""

    left: np.ndarray
    right: np.ndarray
    rule_mask: np.ndarray
    rule_names: tuple[str, ...]
    pairs_per_rule: dict[str, int]
    skipped_blocks_per_rule: dict[str, int]

    def rules_of(self, mask: int) -> list[str]:
        return [name for bit, name in enumerate(self.rule_names) if mask >> bit & 1]


def rule_name(rule: tuple[str, ...]) -> str:
    return "+".join(rule)


def cap_frequent_values(features: Features, fields: tuple[str, ...], cap: int) -> dict[str, int]:
    """Turn identifier values shared by more than `cap` records into missing values.

    A mailbox or phone number used by many people (info@, a switchboard) is evidence of
    nothing, so it must neither create candidates nor count as agreement. Mutates the codes
    in place; returns how many distinct values were removed per field.
    """
    removed = {}
    for name in fields:
        codes = features.fields[name].codes
        present = codes >= 0
        counts = np.bincount(codes[present], minlength=len(features.fields[name].values))
        frequent = np.append(counts > cap, False)  # code -1 reads the trailing False
        codes[frequent[codes]] = -1
        removed[name] = int(frequent.sum())
    return removed


def drop_shared_values(
    features: Features,
    fields: tuple[str, ...],
    cap: int,
    conflict: Callable[[Features, np.ndarray, np.ndarray], np.ndarray],
) -> dict[str, int]:
    """Turn identifier values held by evidently different people into missing values.

    A household's family@ mailbox or a shared landline links records that `conflict` says
    are two people (different first names or birth dates): such a value identifies a group,
    not a person, so it must not count as agreement for anyone holding it. Mutates in place;
    returns how many values were dropped per field.
    """
    dropped = {}
    for name in fields:
        codes = features.fields[name].codes
        left, right, _ = pairs_within_groups(codes, cap)
        shared = np.unique(codes[left[conflict(features, left, right)]])
        codes[np.isin(codes, shared)] = -1
        dropped[name] = len(shared)
    return dropped


def pairs_within_groups(key: np.ndarray, max_group: int) -> tuple[np.ndarray, np.ndarray, int]:
    """All (i, j), i < j, sharing a key, from groups of 2..max_group records.

    Returns left, right and the number of groups skipped for being too large.
    """
    members = np.nonzero(key >= 0)[0]
    order = np.argsort(key[members], kind="stable")
    members, sorted_keys = members[order], key[members][order]
    _, starts, sizes = np.unique(sorted_keys, return_index=True, return_counts=True)
    keep = (sizes >= 2) & (sizes <= max_group)
    skipped = int((sizes > max_group).sum())
    kept = np.repeat(keep, sizes)
    members, sizes = members[kept], sizes[keep]
    ends = np.repeat(np.cumsum(sizes), sizes)
    partners = ends - np.arange(len(members)) - 1
    total = int(partners.sum())
    first = np.repeat(np.arange(len(members)), partners)
    step = np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners) + 1
    a, b = members[first], members[first + step]
    return np.minimum(a, b), np.maximum(a, b), skipped


def candidate_pairs(
    features: Features, rules: tuple[tuple[str, ...], ...], max_block_size: int
) -> Candidates:
    """Union of the pairs of every rule, each pair once with the rules that found it."""
    n = np.int64(max(features.n, 1))
    codes, masks, per_rule, skipped = [], [], {}, {}
    for bit, rule in enumerate(rules):
        left, right, too_big = pairs_within_groups(combined_key(features, rule), max_block_size)
        codes.append(left * n + right)
        masks.append(np.full(len(left), 1 << bit, dtype=np.int64))
        per_rule[rule_name(rule)] = len(left)
        skipped[rule_name(rule)] = too_big
    all_codes = np.concatenate(codes) if codes else np.zeros(0, np.int64)
    all_masks = np.concatenate(masks) if masks else np.zeros(0, np.int64)
    order = np.argsort(all_codes, kind="stable")
    all_codes, all_masks = all_codes[order], all_masks[order]
    unique, starts = np.unique(all_codes, return_index=True)
    mask = np.bitwise_or.reduceat(all_masks, starts) if len(unique) else all_masks
    return Candidates(
        left=unique // n,
        right=unique % n,
        rule_mask=mask,
        rule_names=tuple(rule_name(r) for r in rules),
        pairs_per_rule=per_rule,
        skipped_blocks_per_rule=skipped,
    )
