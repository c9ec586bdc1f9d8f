"""The personal-data registry (`schemas/personal_data.yaml`): every warehouse table that can
hold a person's data and how its rows link to a person, as data.

Erasure follows these links; the raw loaders, the quarantine and staging read the same
entries to drop a suppressed person's records on arrival (`Registry.arrival`). A test builds
the list of tables from a fully loaded warehouse and fails on any table not registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import pandas as pd
import yaml

from profile_assets.privacy.suppression import RecordColumn, Suppressions, suppressed_mask

REGISTRY_PATH = Path(__file__).resolve().parents[2] / "schemas" / "personal_data.yaml"
LinkKind = Literal["record", "record_list", "parent", "profile", "profile_list", "email"]
_KINDS = ("record", "record_list", "parent", "profile", "profile_list", "email")


@dataclass(frozen=True)
class Link:
    """How one column of a table links its rows to a person (see the YAML's header)."""

    kind: LinkKind
    column: str
    source: str | None = None
    source_column: str | None = None
    parent: str | None = None
    parent_column: str | None = None

    @property
    def parent_source(self) -> str | None:
        """The parent's record-key source ("raw.storefront_orders" -> "storefront_orders")."""
        return self.parent.split(".", 1)[1] if self.parent else None

    def arrival_column(self) -> RecordColumn | None:
        """The record-key test this link gives on arrival (profile links give none)."""
        if self.kind == "record":
            return RecordColumn(self.column, self.source, self.source_column)
        if self.kind == "record_list":
            return RecordColumn(self.column, self.source, many=True)
        if self.kind == "parent":
            return RecordColumn(self.column, self.parent_source)
        return None

    @property
    def email_column(self) -> str | None:
        return self.column if self.kind == "email" else None


@dataclass(frozen=True)
class TableEntry:
    table: str
    links: tuple[Link, ...] = ()
    emails: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    sweep_only: bool = False
    no_personal_data: str | None = None

    @property
    def source(self) -> str:
        """The table's record-key source: its name without the schema."""
        return self.table.split(".", 1)[1]

    @property
    def holds_personal_data(self) -> bool:
        return self.no_personal_data is None

    def arrival(self) -> Arrival:
        columns = tuple(c for link in self.links if (c := link.arrival_column()) is not None)
        emails = (*self.emails, *(c for link in self.links if (c := link.email_column)))
        return Arrival(self.table, tuple(dict.fromkeys(emails)), columns)


@dataclass(frozen=True)
class Arrival:
    """The suppression test of one table's incoming rows."""

    table: str
    email_columns: tuple[str, ...] = ()
    record_columns: tuple[RecordColumn, ...] = ()

    def mask(self, frame: pd.DataFrame, suppressions: Suppressions) -> pd.Series:
        return suppressed_mask(
            frame,
            suppressions,
            email_columns=self.email_columns,
            record_columns=self.record_columns,
        )

    def drop(self, frame: pd.DataFrame, suppressions: Suppressions) -> tuple[pd.DataFrame, int]:
        """`frame` without a suppressed person's rows, and how many were dropped."""
        if not suppressions or frame.empty:
            return frame, 0
        mask = self.mask(frame, suppressions).to_numpy()
        return frame[~mask].reset_index(drop=True), int(mask.sum())


@dataclass(frozen=True)
class Registry:
    tables: dict[str, TableEntry]
    #: schema -> profile id column: every table there is erased by it.
    profile_schemas: dict[str, str] = field(default_factory=dict)

    def entry(self, table: str) -> TableEntry | None:
        """The table's entry; a table of a profile schema gets one by its profile id."""
        table = table.lower()
        if table in self.tables:
            return self.tables[table]
        schema = table.split(".", 1)[0]
        if schema in self.profile_schemas:
            return TableEntry(table, (Link("profile", self.profile_schemas[schema]),))
        return None

    def arrival(self, table: str) -> Arrival:
        entry = self.entry(table)
        return entry.arrival() if entry else Arrival(table)

    def person_tables(self) -> dict[str, TableEntry]:
        """Raw tables whose rows are person records (linked by their own `_source_id`)."""
        return {
            name: e
            for name, e in self.tables.items()
            if name.startswith("raw.")
            and any(k.kind == "record" and k.column == "_source_id" for k in e.links)
        }

    def parents(self) -> set[str]:
        """Tables other tables link to through a parent (their record keys are suppressed)."""
        return {k.parent for e in self.tables.values() for k in e.links if k.parent}


def _entry(table: str, spec: dict) -> TableEntry:
    links = []
    for raw in spec.get("links") or ():
        if raw.get("kind") not in _KINDS:
            raise ValueError(f"{REGISTRY_PATH.name}: {table}: unknown link kind {raw!r}")
        links.append(Link(**raw))
    entry = TableEntry(
        table=table,
        links=tuple(links),
        emails=tuple(spec.get("emails") or ()),
        values=tuple(spec.get("values") or ()),
        sweep_only=bool(spec.get("sweep_only", False)),
        no_personal_data=spec.get("no_personal_data"),
    )
    if not (entry.links or entry.sweep_only or entry.no_personal_data):
        raise ValueError(f"{REGISTRY_PATH.name}: {table}: links, sweep_only or a reason needed")
    return entry


def load_registry(path: Path = REGISTRY_PATH) -> Registry:
    data = yaml.safe_load(path.read_text())
    tables = {name.lower(): _entry(name.lower(), spec) for name, spec in data["tables"].items()}
    return Registry(tables, dict(data.get("profile_schemas") or {}))


@cache
def registry() -> Registry:
    """The registry of this checkout (read once)."""
    return load_registry()
