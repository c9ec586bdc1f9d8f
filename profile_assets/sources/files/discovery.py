"""Finding dropped files and moving them on: settled, non-temporary files oldest first;
afterwards into `drop/archive/<kind>/`, or `drop/failed/<kind>/` with a `.reason.txt`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from profile_assets.sources.files.kinds import DropKind

# A file younger than this may still be being written by a producer that does not rename.
SETTLE_SECONDS = 2.0
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", ".reason.txt")
ARCHIVE, FAILED = "archive", "failed"  # drop/<area>/<kind>/


def pending_files(
    drop_root: Path,
    kind: DropKind,
    *,
    now: float | None = None,
    settle_seconds: float = SETTLE_SECONDS,
) -> list[Path]:
    """Files waiting in drop/<kind>/, oldest first; hidden, temporary and still-changing
    files are left for a later pass."""
    directory = drop_root / kind.name
    if not directory.is_dir():
        return []
    now = time.time() if now is None else now
    ready = [
        path
        for path in directory.iterdir()
        if path.is_file()
        and not path.name.startswith((".", "~"))
        and not path.name.lower().endswith(TEMPORARY_SUFFIXES)
        and now - path.stat().st_mtime >= settle_seconds
    ]
    return sorted(ready, key=lambda p: (p.stat().st_mtime, p.name))


@dataclass(frozen=True)
class DroppedFile:
    """One file as found in drop/<kind>/, read once: everything else works on these bytes."""

    path: Path
    kind: DropKind
    data: bytes
    sha256: str
    modified_at: pd.Timestamp

    @classmethod
    def read(cls, path: Path, kind: DropKind) -> DroppedFile:
        data = path.read_bytes()
        modified_at = pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC")
        return cls(path, kind, data, hashlib.sha256(data).hexdigest(), modified_at)

    @property
    def name(self) -> str:
        """How rows, rejections and ops.loaded_files name the file: '<kind>/<file name>'."""
        return f"{self.kind.name}/{self.path.name}"

    def move_to(self, area: str, drop_root: Path) -> Path:
        """Into drop/<area>/<kind>/ under a name unique per content, so a re-sent name never
        overwrites an earlier delivery. A file already gone was moved by a concurrent run."""
        directory = drop_root / area / self.kind.name
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{self.path.stem}.{self.sha256[:12]}{self.path.suffix}"
        with contextlib.suppress(FileNotFoundError):
            os.replace(self.path, target)
        return target


def fail_aside(dropped: DroppedFile, reason: str, drop_root: Path) -> Path:
    """The reason is written first, so a failed file never sits there unexplained."""
    target = dropped.move_to(FAILED, drop_root)
    reason_file = target.with_name(target.name + ".reason.txt")
    reason_file.write_text(reason + "\n", encoding="utf-8")
    return target
