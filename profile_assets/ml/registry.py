"""Versioned model artifacts under `$PROFILE_ASSETS_HOME/models/`, and which version is served.

    models/purchase/<version>/estimators.skops   the fitted estimators (skops, never pickle)
    models/purchase/<version>/card.json          metrics, training window, code/data versions
    models/purchase/<version>/scores.parquet     the population scored by that version
    models/purchase/current                      the promoted version (one line)
    models/purchase/history                      promotions, newest last (for rollback)

A training run writes a candidate; promotion points `current` at it (or refuses, and says
why). A data scientist who disagrees uses `profile-assets model promote|rollback`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from skops.io import dump, get_untrusted_types, load

from profile_assets import settings

FAMILY = "purchase"


class RegistryError(ValueError):
    """An unknown version, or nothing to roll back to."""


@dataclass(frozen=True)
class ModelVersion:
    version: str
    path: Path

    @property
    def card(self) -> dict:
        return json.loads((self.path / "card.json").read_text())

    def scores(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "scores.parquet")

    def estimators(self) -> dict:
        """The estimators, loaded trusting only the types this registry itself wrote."""
        file = self.path / "estimators.skops"
        return load(file, trusted=get_untrusted_types(file=file))


def root(family: str = FAMILY) -> Path:
    return settings.home() / "models" / family


def save_candidate(version: str, estimators: dict, card: dict, scores: pd.DataFrame) -> Path:
    """Write a version's files into a temporary folder, then rename it into place."""
    target = root() / version
    staging = root() / f".{version}.partial"
    staging.mkdir(parents=True, exist_ok=True)
    dump(estimators, staging / "estimators.skops")
    scores.to_parquet(staging / "scores.parquet", index=False)
    (staging / "card.json").write_text(json.dumps(card, indent=2, default=str))
    os.replace(staging, target)
    return target


def versions() -> list[ModelVersion]:
    base = root()
    if not base.exists():
        return []
    found = [p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return [ModelVersion(p.name, p) for p in sorted(found, key=lambda p: p.name)]


def get(version: str) -> ModelVersion:
    path = root() / version
    if not (path / "card.json").exists():
        known = ", ".join(v.version for v in versions()) or "none"
        raise RegistryError(f"no model version {version!r}; known: {known}")
    return ModelVersion(version, path)


def current() -> ModelVersion | None:
    pointer = root() / "current"
    return get(pointer.read_text().strip()) if pointer.exists() else None


def promote(version: str) -> ModelVersion:
    chosen = get(version)
    _write(root() / "current", version)
    history = _history()
    if not history or history[-1] != version:
        _write(root() / "history", "\n".join([*history, version]))
    return chosen


def rollback() -> ModelVersion:
    """Serve the version promoted before the current one."""
    history = _history()
    if len(history) < 2:
        raise RegistryError("nothing to roll back to: fewer than two promotions")
    _write(root() / "history", "\n".join(history[:-1]))
    _write(root() / "current", history[-2])
    return get(history[-2])


def _history() -> list[str]:
    path = root() / "history"
    return path.read_text().split() if path.exists() else []


def _write(path: Path, text: str) -> None:
    """Atomically: a reader sees the old pointer or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text + "\n")
    os.replace(temporary, path)
