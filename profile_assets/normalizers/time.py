"""Timestamps to UTC from a source's zone, DST overlaps and gaps read like zoneinfo fold=0."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pandas as pd

from profile_assets.normalizers.text import clean_text

# A clock time followed by "Z" or a UTC offset ("...T10:00:00.123+02:00"); a bare date is naive.
_OFFSET_SUFFIX = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"


def _localize_by_fold0(naive: pd.Timestamp, tz: str) -> pd.Timestamp:
    """Python's fold=0 reading of a wall time, for the rare times pandas cannot localize."""
    local = naive.to_pydatetime().replace(tzinfo=ZoneInfo(tz), fold=0)
    return pd.Timestamp(local).tz_convert("UTC")


def _localize(naive: pd.Series, tz: str) -> pd.Series:
    utc = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    odd = utc.isna() & naive.notna()
    if odd.any():  # wall times in a DST overlap or gap
        utc = utc.astype(object)
        utc[odd] = [_localize_by_fold0(t, tz) for t in naive[odd]]
        utc = pd.to_datetime(utc, utc=True).astype("datetime64[ns, UTC]")
    return utc


def to_utc(values: pd.Series, source_tz: str) -> pd.Series:
    """Timestamps to tz-aware UTC (`datetime64[ns, UTC]`); unparseable values become NaT.

    Aware values (and strings ending in "Z" or an offset) are converted. Naive values are wall
    times in `source_tz`, read like Python's zoneinfo with fold=0: a time repeated when clocks
    go back (01:30 on a fall-back night) is the *first* one, still daylight time; a time that
    never happened when clocks go forward (02:30 on a spring-forward night) keeps the offset
    from before the jump, so it lands as long after the jump as it claims (02:30 EST = 03:30 EDT).
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if values.dtype.kind == "M":
        return _localize(values.astype("datetime64[ns]"), source_tz)
    # Strings and Python datetimes alike: str() of an aware datetime ends in its offset.
    text = clean_text(values)
    aware = text.str.contains(_OFFSET_SUFFIX, regex=True).fillna(False).astype(bool)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if aware.any():
        out[aware] = _parse_timestamps(text[aware], utc=True)
    naive = text.notna() & ~aware
    if naive.any():
        out[naive] = _localize(_parse_timestamps(text[naive], utc=False), source_tz)
    return out


def _parse_timestamps(text: pd.Series, utc: bool) -> pd.Series:
    """ISO-8601 on the fast path; anything else through pandas' per-value format inference."""
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=utc)
    retry = parsed.isna() & text.notna()
    if retry.any():
        parsed[retry] = pd.to_datetime(text[retry], format="mixed", errors="coerce", utc=utc)
    return parsed if utc else parsed.astype("datetime64[ns]")
