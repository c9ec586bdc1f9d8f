"""The enrichment cache: which canonical emails to ask about, and the rows answers become.

`enrichment.person_enrichment` holds one row per canonical email key: the status of the last
answer, when it was asked, when it expires and the flattened fields. An email is asked about
when it is new (never asked), expired (TTL passed), or its last answer was `queued` or
`failed`; `enriched` and `unknown` answers are kept until their TTL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from profile_assets.enrichment.client import ENRICHED, FAILED, QUEUED, Answer

CACHE_TABLE = "enrichment.person_enrichment"
#: Flattened answer fields: (column, path in the vendor's JSON).
FIELDS = (
    ("job_title", ("employment", "title")),
    ("job_role", ("employment", "role")),
    ("seniority", ("employment", "seniority")),
    ("geo_city", ("geo", "city")),
    ("geo_state", ("geo", "state")),
    ("geo_country", ("geo", "country")),
    ("age_range", ("demographics", "ageRange")),
    ("income_band", ("demographics", "incomeBand")),
    ("household_size", ("demographics", "householdSize")),
)
FIELD_COLUMNS = [name for name, _ in FIELDS]
CACHE_COLUMNS = ["email_key", "status", "asked_at", "expires_at", "detail", *FIELD_COLUMNS]
ASK_AGAIN = frozenset({QUEUED, FAILED})


def due_emails(
    wanted: pd.DataFrame, cache: pd.DataFrame | None, now: pd.Timestamp, ttl: pd.Timedelta
) -> pd.DataFrame:
    """Rows of `wanted` (email_key, email) that need asking. The TTL is today's setting, so
    shortening it takes effect on answers cached before the change."""
    if cache is None or cache.empty:
        return wanted.reset_index(drop=True)
    known = wanted.merge(cache[["email_key", "status", "asked_at"]], on="email_key", how="left")
    expired = pd.to_datetime(known["asked_at"], utc=True) + ttl <= now
    ask = known["status"].isna() | known["status"].isin(ASK_AGAIN) | expired
    return known.loc[ask, ["email_key", "email"]].reset_index(drop=True)


def _dig(payload: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def answer_rows(
    answers: Iterable[tuple[str, Answer]], now: pd.Timestamp, ttl: pd.Timedelta
) -> pd.DataFrame:
    """Cache rows for (email_key, answer) pairs, stamped with `now` and `now + ttl`."""
    rows = []
    for email_key, answer in answers:
        row = {
            "email_key": email_key,
            "status": answer.status,
            "asked_at": now,
            "expires_at": now + ttl,
            "detail": answer.detail,
        }
        for name, path in FIELDS:
            value = _dig(answer.payload, path) if answer.status == ENRICHED else None
            row[name] = value
        rows.append(row)
    frame = pd.DataFrame(rows, columns=CACHE_COLUMNS)
    text = [c for c in CACHE_COLUMNS if c not in ("asked_at", "expires_at", "household_size")]
    return frame.astype(
        {
            **dict.fromkeys(text, "string"),
            "asked_at": "datetime64[us, UTC]",
            "expires_at": "datetime64[us, UTC]",
            "household_size": "Int64",
        }
    )
