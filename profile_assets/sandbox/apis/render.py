"""Cells of world tables as vendors render them: each vendor has its own timestamp convention,
and broken values must survive as JSON (NaN/NA/NaT become null)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def utc_series(values: pd.Series) -> pd.Series:
    """Coerce a column to tz-aware UTC; broken values become NaT instead of failing the load."""
    return pd.to_datetime(values, utc=True, errors="coerce")


def iso_utc(values: pd.Series, *, millis: bool) -> list[str | None]:
    """ISO-8601 UTC with a Z: HubSpot uses milliseconds, Zendesk whole seconds."""
    ts = utc_series(values)
    text = (
        ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3]
        if millis
        else ts.dt.strftime("%Y-%m-%dT%H:%M:%S")
    )
    return [None if pd.isna(v) else f"{v}Z" for v in text]


def epoch(values: pd.Series, *, millis: bool) -> list[int]:
    """Integer epoch (ms or s) used as the change-index key; NaT sorts first as 0."""
    ts = utc_series(values)
    ns = ts.astype("int64", copy=False).where(ts.notna(), 0)
    return (ns // (1_000_000 if millis else 1_000_000_000)).astype("int64").tolist()


def plain(value: Any) -> Any:
    """A cell as a JSON-safe scalar: NaN/NA/NaT become None, numpy scalars become Python."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, dict, str, bool)):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    return value.item() if hasattr(value, "item") else value
