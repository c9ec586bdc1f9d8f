"""Per-record explanation of a merge: the strongest link that holds the record in its profile.

Every record in a multi-record profile gets the best accepted link to another member of the
same profile, with which fields agreed at which level and what each contributed (log2 Bayes
factor), so the UI can answer "why are these one person?". JSON is rendered by DuckDB in one
vectorized statement rather than one `json.dumps` per record.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

RULE_SINGLETON = "singleton"
RULE_MUST_LINK = "must_link"
RULE_MODEL = "fellegi_sunter"


def best_link_per_record(n: int, left: np.ndarray, right: np.ndarray, probability: np.ndarray,
                         labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(link index, partner index) per record, -1 where the record has no link inside its
    own cluster (singletons, or records whose links were refused)."""
    inside = np.nonzero(labels[left] == labels[right])[0]
    records = np.concatenate([left[inside], right[inside]])
    partners = np.concatenate([right[inside], left[inside]])
    edges = np.concatenate([inside, inside])
    order = np.lexsort((-probability[edges], records))
    records, partners, edges = records[order], partners[order], edges[order]
    first = np.ones(len(records), dtype=bool)
    first[1:] = records[1:] != records[:-1]
    best_edge = np.full(n, -1, dtype=np.int64)
    best_partner = np.full(n, -1, dtype=np.int64)
    best_edge[records[first]] = edges[first]
    best_partner[records[first]] = partners[first]
    return best_edge, best_partner


def render_evidence(
    partner_source: np.ndarray,
    partner_record_id: np.ndarray,
    probability: np.ndarray,
    match_weight: np.ndarray,
    blocked_on: np.ndarray,
    field_levels: dict[str, np.ndarray],
    field_weights: dict[str, np.ndarray],
    prior_weight: float,
) -> np.ndarray:
    """JSON object per row (rows with no partner get "{}"). match_weight = prior_weight + the
    field weights (log2 odds); fields missing on either side are left out, as they were no
    evidence."""
    frame = pd.DataFrame(
        {
            "row": np.arange(len(probability)),
            "partner_source": partner_source,
            "partner_record_id": partner_record_id,
            "probability": probability,
            "match_weight": match_weight,
            "blocked_on": blocked_on,
        }
    )
    fields_sql = []
    for name, levels in field_levels.items():
        frame[f"{name}__level"] = levels
        frame[f"{name}__weight"] = field_weights[name]
        fields_sql.append(
            f"CASE WHEN \"{name}__level\" IS NOT NULL THEN {{'field': '{name}', "
            f"'level': \"{name}__level\", 'weight': round(\"{name}__weight\", 3)}} END"
        )
    query = f"""
        SELECT CASE WHEN partner_record_id IS NULL THEN '{{}}' ELSE to_json({{
            'matched_with': {{'source': partner_source, 'record_id': partner_record_id}},
            'probability': round(probability, 6),
            'match_weight': round(match_weight, 3),
            'prior_weight': {round(prior_weight, 3)},
            'blocked_on': string_split(blocked_on, ','),
            'fields': list_filter([{", ".join(fields_sql)}], lambda x: x IS NOT NULL)
        }})::VARCHAR END AS evidence
        FROM frame
    """
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.register("frame", frame)
        return con.execute(query).fetchnumpy()["evidence"].astype(object)
