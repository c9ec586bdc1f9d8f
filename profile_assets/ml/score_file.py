"""Score any orders file: the library behind `profile-assets score`.

No Dagster, sandbox or warehouse: read CSV or Parquet (`orders.read_orders`), score with the
same engine as the assets (`score.score_orders`), write one row per customer seen on or before
the as-of date (CSV or Parquet, by the output file's extension). User errors come back as
`ScoreInputError` with a message; dropped rows and horizon rescaling come back as notes for the
caller to print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from profile_assets.ml.orders import OrdersError, file_kind, read_orders
from profile_assets.ml.score import SCORE_COLUMNS, Progress, ScoreResult, score_orders
from profile_assets.ml.training import NotEnoughHistory


class ScoreInputError(ValueError):
    """The file or the options cannot be scored; the message says why."""


@dataclass(frozen=True)
class ScoreFileResult:
    result: ScoreResult
    #: What the user should know (dropped rows, ignored future orders).
    notes: tuple[str, ...]
    #: What the user should question (the horizon had to be rescaled).
    warnings: tuple[str, ...]


def score_file(
    orders_path: str | Path,
    output_path: str | Path,
    *,
    as_of: str,
    horizon_days: int,
    seed: int = 0,
    progress: Progress | None = None,
) -> ScoreFileResult:
    """Read, score and write; returns the result and the notes a user should see."""
    output_path = Path(output_path)
    try:
        out_kind = file_kind(output_path)
        as_of_date = _parse_as_of(as_of)
        if horizon_days < 1:
            raise ScoreInputError(f"--horizon-days must be at least 1, got {horizon_days}")
        loaded = read_orders(orders_path)
        result = score_orders(loaded.orders, as_of_date, horizon_days, seed=seed, progress=progress)
    except (OrdersError, NotEnoughHistory) as error:
        raise ScoreInputError(str(error)) from error
    except ValueError as error:
        if isinstance(error, ScoreInputError):
            raise
        raise ScoreInputError(str(error)) from error
    future = int((loaded.orders["order_date"] > as_of_date).sum())
    notes = tuple(
        n
        for n in (
            loaded.drop_summary(),
            f"ignored {future:,} orders after the as-of date (the future)" if future else "",
        )
        if n
    )
    _write(result.scores[SCORE_COLUMNS], output_path, out_kind)
    return ScoreFileResult(result, notes, result.warnings)


def _parse_as_of(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(pd.to_datetime(text, format="%Y-%m-%d"))
    except (ValueError, TypeError) as error:
        raise ScoreInputError(f"--as-of must be YYYY-MM-DD, got {text!r}") from error


def _write(scores: pd.DataFrame, path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        scores.to_csv(path, index=False, float_format="%.6g")
    else:
        scores.to_parquet(path, index=False)
