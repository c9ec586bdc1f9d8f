"""Pairwise precision/recall of an identity map against a truth the *caller* supplies.

The engine never reads truth; assets and benchmarks call this with the sandbox's truth to
report quality as metadata. Pairs are counted from group sizes (n choose 2), so this is
linear in the number of records.
"""

from __future__ import annotations

import pandas as pd


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_metrics(pred_map: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float | int]:
    """`pred_map`: source, source_record_id, profile_id. `truth`: source, source_id (or
    source_record_id), person_id; a missing person_id is a person of its own. Only records
    present in both are scored."""
    truth = truth.rename(columns={"source_id": "source_record_id"})
    left = pred_map[["source", "source_record_id", "profile_id"]].astype(
        {"source": str, "source_record_id": str}
    )
    right = truth[["source", "source_record_id", "person_id"]].astype(
        {"source": str, "source_record_id": str}
    )
    joined = left.merge(right, on=["source", "source_record_id"], how="inner")
    person = joined["person_id"].astype(object)
    unknown = person.isna()
    person = person.astype(str).where(~unknown, "?" + joined["source"] + ":" +
                                      joined["source_record_id"])  # fmt: skip
    joined = joined.assign(person=person)
    predicted = _pairs(joined.groupby("profile_id").size())
    actual = _pairs(joined.groupby("person").size())
    correct = _pairs(joined.groupby(["profile_id", "person"]).size())
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "records": len(joined),
        "predicted_pairs": predicted,
        "true_pairs": actual,
        "correct_pairs": correct,
        "precision": round(precision, 5),
        "recall": round(recall, 5),
        "f1": round(f1, 5),
    }


def blocking_recall(candidates: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float | int]:
    """Share of true pairs among `candidates` (left/right source and record_id, e.g. from
    `engine.candidate_record_pairs`), measured apart from scoring: what blocking lets through."""
    truth = truth.rename(columns={"source_id": "source_record_id"}).astype(
        {"source": str, "source_record_id": str}
    )
    person = truth.set_index(["source", "source_record_id"])["person_id"]
    person = person[person.notna()]
    true_pairs = _pairs(person.value_counts())

    def side(name: str) -> pd.Series:
        keys = pd.MultiIndex.from_arrays(
            [candidates[f"{name}_source"].astype(str), candidates[f"{name}_record_id"].astype(str)]
        )
        return person.reindex(keys).to_numpy()

    left, right = side("left"), side("right")
    found = int(((left == right) & pd.notna(left)).sum())
    return {
        "candidate_pairs": len(candidates),
        "true_pairs": true_pairs,
        "blocking_recall": round(found / true_pairs, 5) if true_pairs else 1.0,
    }
