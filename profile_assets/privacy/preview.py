"""Previews for asset metadata that keep personal data out of Dagster's event history.

Asset metadata is stored in Dagster's run and event databases, which no erasure can reach. So
previews are masked by default: every column whose name says it holds personal data (emails,
phones, names, addresses, postcodes, birth dates) shows only a value's shape (`j***@e***.com`,
`+1*********23`). Counts, rates and distributions are not affected.

`PROFILE_ASSETS_METADATA_PREVIEW`: `masked` (default), `full` (development only: real values)
or `off` (no rows at all).
"""

from __future__ import annotations

import os
import re

import pandas as pd

PREVIEW_ENV = "PROFILE_ASSETS_METADATA_PREVIEW"
PREVIEW_MODES = ("masked", "full", "off")
PREVIEW_ROWS = 5
# Column-name fragments of personal data, matched on the lower-cased name.
_PERSONAL = re.compile(
    r"e[-_]?mail|phone|mobile|name|address|street|line[12]|post(al)?code|zip|birth|dob|city"
    r"|payload|^ip$|ip_address"
)


def preview_mode() -> str:
    mode = os.environ.get(PREVIEW_ENV, "masked").strip().lower()
    if mode not in PREVIEW_MODES:
        raise ValueError(f"{PREVIEW_ENV}={mode!r}: expected one of {', '.join(PREVIEW_MODES)}")
    return mode


def is_personal(column: str) -> bool:
    """Whether a column's name says it holds personal data (ids and key hashes do not)."""
    name = str(column).lower()
    return bool(_PERSONAL.search(name)) and not name.endswith(("_id", "_key", "_hash", "_count"))


def mask_value(value: object) -> str:
    """A value's shape without its content: first and last characters of each word-part."""
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return ""
    return re.sub(r"[^\W_]+", _mask_run, str(value))


def _mask_run(match: re.Match) -> str:
    text = match.group(0)
    return text[0] + "*" * (len(text) - 1) if len(text) > 2 else "*" * len(text)


def masked(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` as text, personal columns masked (or untouched in `full` mode).

    Pandera failure cases name the failing column in `column` and hold the bad value in
    `failure_case`: that value is masked when its column is personal.
    """
    text = frame.astype(str)
    if preview_mode() == "full":
        return text
    for column in frame.columns:
        if is_personal(column):
            text[column] = frame[column].map(mask_value)
    if {"column", "failure_case"} <= set(frame.columns):
        personal = frame["column"].map(is_personal).astype(bool)
        text.loc[personal, "failure_case"] = frame.loc[personal, "failure_case"].map(mask_value)
    return text


def preview_markdown(frame: pd.DataFrame, rows: int = PREVIEW_ROWS, *, index: bool = False) -> str:
    """A small Markdown table for asset metadata, masked as the mode says."""
    if preview_mode() == "off":
        return f"_{len(frame):,} rows; previews are off ({PREVIEW_ENV}=off)_"
    return masked(frame.head(rows)).to_markdown(index=index)
