"""Point lookups on the live snapshot, by email (any spelling) or profile id.

Every call stats the `CURRENT` pointer (about 1 us): a new full build or an upsert changes it,
so a reader picks up new snapshots without a restart and never serves from a cache older than
the last publish that returned. Results are cached per snapshot generation in a bounded dict
(a burst of unknown keys cannot grow it without limit).

Email spellings: the address as given, trimmed and lower-cased, is tried first against the
aliases the snapshot stores (every spelling seen in the data, mapped by identity's key); only
other spellings pay for identity's own key function (`canonical_email_keys`, pandas, about
0.3 ms), memoized.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import orjson
import pandas as pd

from profile_assets.privacy.suppression import canonical_email_keys
from profile_assets.serving.record import alias_of
from profile_assets.serving.snapshot import LOOKUP_SQL, POINTER, read_pointer, serving_dir

CACHE_ENTRIES = 200_000
MMAP_BYTES = 1 << 31


@dataclass(frozen=True)
class Document:
    """A served record as stored: its ETag and its JSON bytes."""

    etag: str
    body: bytes

    def as_dict(self) -> dict:
        return orjson.loads(self.body)


@dataclass
class _Generation:
    stamp: tuple[int, int, int] | None
    path: Path | None
    generation: int
    cache: dict[str, Document | None] = field(default_factory=dict)


@lru_cache(maxsize=65_536)
def canonical_key(address: str) -> str | None:
    """Identity's canonical email key (the function staging and erasure use), memoized."""
    key = canonical_email_keys(pd.Series([address], dtype=object)).iloc[0]
    return None if key is None or key != key else str(key)


class SnapshotReader:
    """Lookups on the snapshot published in `directory`; safe to share between threads."""

    def __init__(self, directory: Path, cache_entries: int = CACHE_ENTRIES):
        self.directory = Path(directory)
        self._pointer = str(self.directory / POINTER)
        self._cache_entries = cache_entries
        self._state = _Generation(stamp=None, path=None, generation=0)
        self._local = threading.local()
        self._lock = threading.Lock()

    # -- the public API
    def get(self, email_or_profile_id: str) -> Document | None:
        state = self._current()
        cache = state.cache
        if email_or_profile_id in cache:
            return cache[email_or_profile_id]
        found = self._find(state, email_or_profile_id)
        if len(cache) >= self._cache_entries:
            cache.clear()
        cache[email_or_profile_id] = found
        return found

    def lookup(self, email_or_profile_id: str) -> dict | None:
        found = self.get(email_or_profile_id)
        return None if found is None else found.as_dict()

    @property
    def generation(self) -> int:
        return self._current().generation

    @property
    def path(self) -> Path | None:
        return self._current().path

    # -- internals
    def _current(self) -> _Generation:
        """The state for the pointer as it is now (re-read only when its stat changed)."""
        try:
            st = os.stat(self._pointer)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        state = self._state
        if stamp == state.stamp:
            return state
        with self._lock:
            if stamp != self._state.stamp:
                pointer = read_pointer(self.directory) if stamp else None
                path = None if pointer is None else self.directory / pointer.file
                generation = 0 if pointer is None else pointer.generation
                self._state = _Generation(stamp=stamp, path=path, generation=generation)
            return self._state

    def _find(self, state: _Generation, text: str) -> Document | None:
        if state.path is None:
            return None
        cursor = self._cursor(state.path)
        text = text.strip()
        if "@" not in text:
            return self._query(cursor, text)
        alias = alias_of(text)
        found = self._query(cursor, alias) if alias else None
        if found is None:
            key = canonical_key(text)
            found = self._query(cursor, key) if key and key != alias else None
        return found

    @staticmethod
    def _query(cursor: sqlite3.Cursor, key: str) -> Document | None:
        row = cursor.execute(LOOKUP_SQL, (key,)).fetchone()
        return None if row is None else Document(etag=row[0], body=row[1])

    def _cursor(self, path: Path) -> sqlite3.Cursor:
        """This thread's cursor on `path` (reopened when the snapshot file changed)."""
        local = self._local
        if getattr(local, "path", None) != path:
            if getattr(local, "connection", None) is not None:
                local.connection.close()
            local.connection = _open_reader(path)
            local.cursor = local.connection.cursor()
            local.path = path
        return local.cursor


def _open_reader(path: Path) -> sqlite3.Connection:
    """Read-only in effect (query_only), but allowed to create the WAL index file."""
    con = sqlite3.connect(path, check_same_thread=False, cached_statements=16)
    con.execute("PRAGMA query_only = ON")
    con.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    return con


_readers: dict[str, SnapshotReader] = {}


def reader(directory: Path | None = None) -> SnapshotReader:
    """The process's reader for `directory` (default: the serving dir of PROFILE_ASSETS_HOME)."""
    name = str(directory) if directory is not None else os.environ.get("PROFILE_ASSETS_HOME", "")
    found = _readers.get(name)
    if found is None:
        found = _readers[name] = SnapshotReader(directory or serving_dir())
    return found


def lookup(email_or_profile_id: str) -> dict | None:
    """The served profile for an email address (any spelling identity treats as the same
    mailbox) or a profile id; None for unknown, suppressed, erased or opted-out people."""
    return reader().lookup(email_or_profile_id)
