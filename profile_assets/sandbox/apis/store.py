"""The mutable in-memory store the simulated APIs serve from.

Each source table is rendered once into its vendor's JSON shape (so paging is slicing plus JSON
encoding) and indexed twice: by numeric id (list endpoints page by id) and by (modification key,
id) (search and incremental exports take a window with bisect). A ChangeSet from the world
generator re-renders just the rows it touches.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd

KEY_MIN = -(2**63)
KEY_MAX = 2**63 - 1


class ChangeSetLike(Protocol):
    """The shape of `profile_assets.sandbox.changes.ChangeSet` the store applies."""

    upserts: dict[str, pd.DataFrame]
    deletes: dict[str, list[str]]


@dataclass(frozen=True)
class Rendered:
    """One record as its vendor serves it, with the keys the indexes need.

    `partition` splits the indexes (HubSpot: archived or not, since lists and search see only one
    side); `links` holds association ids (a deal's contacts).
    """

    id: int
    record: dict[str, Any]
    mod: int
    partition: Hashable = None
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """How one world table is served: a vectorised renderer (rows it cannot serve, e.g. without
    an id, are left out) and the record a hard delete leaves behind at a given time."""

    table: str
    render: Callable[[pd.DataFrame], list[Rendered]]
    tombstone: Callable[[Rendered, pd.Timestamp], Rendered]


class IndexedCollection:
    """Rendered records of one table, indexed by id and by (mod, id) per partition."""

    def __init__(self, items: Iterable[Rendered]) -> None:
        self._by_id: dict[int, Rendered] = {r.id: r for r in items}
        self._ids: dict[Hashable, list[int]] = defaultdict(list)
        self._changes: dict[Hashable, list[tuple[int, int]]] = defaultdict(list)
        for r in self._by_id.values():
            self._ids[r.partition].append(r.id)
            self._changes[r.partition].append((r.mod, r.id))
        for ids in self._ids.values():
            ids.sort()
        for keys in self._changes.values():
            keys.sort()

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, record_id: int) -> Rendered | None:
        return self._by_id.get(record_id)

    def put(self, item: Rendered) -> None:
        old = self._by_id.get(item.id)
        if old is not None:
            _remove_sorted(self._ids[old.partition], old.id)
            _remove_sorted(self._changes[old.partition], (old.mod, old.id))
        self._by_id[item.id] = item
        bisect.insort(self._ids[item.partition], item.id)
        bisect.insort(self._changes[item.partition], (item.mod, item.id))

    def page_by_id(
        self, partition: Hashable, first_id: int, limit: int
    ) -> tuple[list[Rendered], int | None]:
        """Records with id >= first_id in id order, and the id that starts the next page."""
        ids = self._ids[partition]
        start = bisect.bisect_left(ids, first_id)
        page = ids[start : start + limit + 1]
        next_id = page[limit] if len(page) > limit else None
        return [self._by_id[i] for i in page[:limit]], next_id

    def change_window(
        self, partition: Hashable, low: tuple[int, int], high: tuple[int, int]
    ) -> tuple[int, int]:
        """Positions [start, stop) of the (mod, id) keys with low <= key < high."""
        keys = self._changes[partition]
        start = bisect.bisect_left(keys, low)
        return start, max(start, bisect.bisect_left(keys, high))

    def changes_at(self, partition: Hashable, start: int, stop: int) -> list[Rendered]:
        """Records at change-index positions [start, stop), oldest change first."""
        return [self._by_id[i] for _, i in self._changes[partition][start:stop]]


def _remove_sorted(values: list, value: Any) -> None:
    i = bisect.bisect_left(values, value)
    if i < len(values) and values[i] == value:
        del values[i]


GenerateChanges = Callable[[Any, int, int], ChangeSetLike]


@dataclass
class SandboxStore:
    """All served records plus the world they came from; `lock` guards both, because the API
    servers run in separate threads and mutation rewrites world tables in place."""

    world: Any
    specs: Sequence[TableSpec]
    generate_changes: GenerateChanges | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    version: int = 0
    collections: dict[str, IndexedCollection] = field(init=False)

    def __post_init__(self) -> None:
        self._spec_by_table = {s.table: s for s in self.specs}
        self.collections = {
            s.table: IndexedCollection(s.render(self.world.tables[s.table])) for s in self.specs
        }

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {name: len(c) for name, c in self.collections.items()}

    def mutate(self, n_people: int, seed: int) -> tuple[ChangeSetLike, dict[str, dict[str, int]]]:
        """Create/update/delete the source records of ~n_people people and serve the result."""
        generate = self.generate_changes or _default_generate_changes()
        with self.lock:
            changeset = generate(self.world, n_people, seed)
            return changeset, self.apply(changeset)

    def apply(self, changeset: ChangeSetLike) -> dict[str, dict[str, int]]:
        """Serve a ChangeSet: upserted rows are re-rendered; deleted ids are re-read from the
        world (the generator may keep them as archived/deleted rows) or else tombstoned."""
        when = _change_time(changeset)
        summary: dict[str, dict[str, int]] = {}
        with self.lock:
            for table, spec in self._spec_by_table.items():
                upserts = changeset.upserts.get(table)
                deleted = [str(i) for i in changeset.deletes.get(table, [])]
                if (upserts is None or upserts.empty) and not deleted:
                    continue
                rendered = spec.render(upserts) if upserts is not None else []
                removed = self._deleted_items(spec, deleted, when)
                collection = self.collections[table]
                for item in rendered + removed:
                    collection.put(item)
                summary[table] = {"upserts": len(rendered), "deletes": len(removed)}
            self.version += 1
        return summary

    def _deleted_items(self, spec: TableSpec, ids: list[str], when: pd.Timestamp) -> list:
        if not ids:
            return []
        frame = self.world.tables.get(spec.table)
        kept = {r.id: r for r in spec.render(frame[frame["id"].astype(str).isin(ids)])}
        collection = self.collections[spec.table]
        items = []
        for raw in ids:
            if not raw.isdigit():  # never served, so nothing to delete
                continue
            record_id = int(raw)
            if record_id in kept:
                items.append(kept[record_id])
            elif (old := collection.get(record_id)) is not None:
                items.append(spec.tombstone(old, when))
        return items


def _change_time(changeset: ChangeSetLike) -> pd.Timestamp:
    """When a hard delete happened: the newest timestamp the ChangeSet carries."""
    newest = [
        frame[col].max()
        for frame in changeset.upserts.values()
        for col in frame.columns
        if isinstance(frame[col].dtype, pd.DatetimeTZDtype) and frame[col].notna().any()
    ]
    return max(newest) if newest else pd.Timestamp.now(tz="UTC")


def _default_generate_changes() -> GenerateChanges:
    from profile_assets.sandbox.changes import generate_changes

    return generate_changes
