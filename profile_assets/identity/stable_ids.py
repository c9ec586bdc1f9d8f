"""Profile ids that survive reruns, additions, merges and splits.

* No history: a cluster's id is a hash of its smallest member key, so the same data gives the
  same ids, and adding records leaves the ids of untouched clusters alone.
* With the previous identity map: each previous id goes to the new cluster holding most of its
  records; when several previous ids compete for one cluster (a merge) the one with the most
  records there wins, then the one that had more records before, then the smaller id. Losing
  ids are retired, never reused; clusters that got no previous id (new people, or fragments of
  a split) get a fresh derived id.
* Merges and splits relative to the previous map are returned as events.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

EVENT_COLUMNS = ["event", "profile_id", "related_profile_ids", "record_count", "label"]


def derived_profile_id(member_key: str, attempt: int = 0) -> str:
    text = member_key if attempt == 0 else f"{member_key}#{attempt}"
    return "P" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def assign_profile_ids(
    record_keys: np.ndarray, labels: np.ndarray, previous: pd.Series | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Profile id per record (by cluster label), and merge/split events against `previous`
    (a Series: record key -> previous profile id). Events carry the cluster `label`."""
    frame = pd.DataFrame({"key": record_keys, "label": labels})
    min_key = _smallest_key_per_label(record_keys, labels)
    ids = pd.Series(index=min_key.index, dtype=object)
    overlap = pd.DataFrame(columns=["label", "prev", "overlap", "prev_size"])
    used: set[str] = set()
    if previous is not None and len(previous):
        frame["prev"] = previous.reindex(record_keys).to_numpy()
        overlap = frame.dropna(subset=["prev"]).groupby(["label", "prev"]).size()
        overlap = overlap.rename("overlap").reset_index()
        overlap["prev_size"] = overlap["prev"].map(previous.value_counts())
        assigned = _assign_previous(overlap)
        ids.loc[assigned.index] = assigned.to_numpy()
        used = set(previous.dropna().unique())
    missing = ids.index[ids.isna()]
    ids.loc[missing] = _fresh_ids(min_key.loc[missing].tolist(), used | set(ids.dropna()))
    return ids.reindex(labels).to_numpy(dtype=object), _events(overlap, ids)


def _smallest_key_per_label(record_keys: np.ndarray, labels: np.ndarray) -> pd.Series:
    """label -> its smallest member key: one string sort, then integer minima (a groupby
    min over strings runs in Python per group)."""
    order = np.argsort(record_keys, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    smallest = pd.Series(rank).groupby(labels).min()
    return pd.Series(record_keys[order[smallest.to_numpy()]], index=smallest.index, dtype=object)


def _fresh_ids(member_keys: list[str], used: set[str]) -> list[str]:
    """Derived ids, re-derived with an attempt counter on the rare clash with a used id."""
    fresh = [derived_profile_id(key) for key in member_keys]
    for i, key in enumerate(member_keys):
        attempt = 0
        while fresh[i] in used:
            attempt += 1
            fresh[i] = derived_profile_id(key, attempt)
        used.add(fresh[i])
    return fresh


def _assign_previous(overlap: pd.DataFrame) -> pd.Series:
    """label -> previous id, in rounds: each label proposes its best previous id, each id
    accepts its best label; repeat on what is left (vectorized, converges in a few rounds)."""
    ranked = overlap.sort_values(
        ["overlap", "prev_size", "prev", "label"], ascending=[False, False, True, True]
    )
    result = {}
    while len(ranked):
        proposals = ranked.drop_duplicates("label").drop_duplicates("prev")
        result.update(zip(proposals["label"], proposals["prev"], strict=True))
        ranked = ranked[
            ~ranked["label"].isin(proposals["label"]) & ~ranked["prev"].isin(proposals["prev"])
        ]
    return pd.Series(result, dtype=object)


def _events(overlap: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """Merges (a cluster holding records of several previous ids) and splits (a previous id
    whose records went to several clusters); only those few groups are walked in Python."""
    rows = []
    merged = overlap[overlap.duplicated("label", keep=False)]
    for label, group in merged.groupby("label"):
        kept = ids[label]
        absorbed = sorted(p for p in group["prev"] if p != kept)
        rows.append(("merge", kept, json.dumps(absorbed), int(group["overlap"].sum()), label))
    split = overlap[overlap.duplicated("prev", keep=False)]
    for prev, group in split.groupby("prev"):
        fragments = sorted(ids[label] for label in group["label"] if ids[label] != prev)
        rows.append(("split", prev, json.dumps(fragments), int(group["overlap"].sum()), None))
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)
