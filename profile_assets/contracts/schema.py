"""The unified customer schema and the source mappings, loaded from the YAML files in `schemas/`.

The files are the contract (reviewed, versioned); this module only turns them into typed
objects. The engines that use them live beside it: `pandera_backend` (staging schemas),
`drift` (extract vs mapping) and `columns` (column names of hand-made files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"

# What identifies a raw record across every layer: the source and its own id there.
RECORD_KEY = ["source", "source_record_id"]


@dataclass(frozen=True)
class FieldSpec:
    """One canonical field: its type, nullability, checks and the names people give it."""

    name: str
    type: str
    nullable: bool = True
    checks: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class EntitySpec:
    name: str
    fields: dict[str, FieldSpec]
    description: str = ""


@dataclass(frozen=True)
class UnifiedSchema:
    version: str
    record_fields: dict[str, FieldSpec]
    entities: dict[str, EntitySpec]


@dataclass(frozen=True)
class ColumnSpec:
    """A vendor column as a source mapping declares it."""

    name: str
    type: str
    required: bool = False
    maps_to: str | None = None
    #: The warehouse column type where the contract type alone is too loose (money).
    sql_type: str | None = None


@dataclass(frozen=True)
class SourceTable:
    """One source table's mapping: vendor columns, their canonical names and source defaults."""

    source: str
    table: str
    version: int
    unified_version: str
    default_region: str
    timezone: str
    entity: str | None
    columns: dict[str, ColumnSpec]
    loose_column_names: bool = False

    @property
    def schema_version(self) -> str:
        """How errors and metadata name the contract: mapping version + unified version."""
        return f"{self.source} mapping v{self.version}, unified schema v{self.unified_version}"

    @property
    def canonical_names(self) -> dict[str, str]:
        """Vendor column -> canonical field, for the columns that map to one."""
        return {c.name: c.maps_to for c in self.columns.values() if c.maps_to}


def _field(name: str, raw: dict[str, Any]) -> FieldSpec:
    return FieldSpec(
        name=name,
        type=raw["type"],
        nullable=raw.get("nullable", True),
        checks=dict(raw.get("checks") or {}),
        aliases=tuple(raw.get("aliases") or ()),
        description=raw.get("description", ""),
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@cache
def load_unified(version: str | None = None, schemas_dir: Path = SCHEMAS_DIR) -> UnifiedSchema:
    """Load `schemas/unified/v<major>.yaml`; `version` "1.0" or "1" picks major 1, None the newest.

    A file holds one major version; its `version` must be at least the requested minor, since
    minor bumps only add nullable fields or loosen checks.
    """
    files = {int(p.stem[1:]): p for p in (schemas_dir / "unified").glob("v*.yaml")}
    major = max(files) if version is None else int(str(version).split(".")[0])
    if major not in files:
        raise FileNotFoundError(f"no unified schema v{major} in {schemas_dir / 'unified'}")
    raw = _read_yaml(files[major])
    found = str(raw["version"])
    if version is not None and _version_tuple(found) < _version_tuple(str(version)):
        raise ValueError(f"unified schema is v{found}, older than the requested v{version}")
    return UnifiedSchema(
        version=found,
        record_fields={n: _field(n, f) for n, f in raw["record_fields"].items()},
        entities={
            name: EntitySpec(
                name=name,
                fields={n: _field(n, f) for n, f in ent["fields"].items()},
                description=ent.get("description", ""),
            )
            for name, ent in raw["entities"].items()
        },
    )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@cache
def _source_tables(schemas_dir: Path) -> dict[str, SourceTable]:
    tables: dict[str, SourceTable] = {}
    for path in sorted((schemas_dir / "sources").glob("*.yaml")):
        raw = _read_yaml(path)
        for table, spec in raw["tables"].items():
            if table in tables:
                raise ValueError(f"table {table!r} is mapped twice ({path.name})")
            tables[table] = SourceTable(
                source=raw["source"],
                table=table,
                version=int(raw["version"]),
                unified_version=str(raw["unified_version"]),
                default_region=raw["default_region"],
                timezone=raw["timezone"],
                entity=spec.get("entity"),
                columns={
                    str(n): ColumnSpec(
                        name=str(n),
                        type=c["type"],
                        required=c.get("required", False),
                        maps_to=c.get("maps_to"),
                        sql_type=c.get("sql_type"),
                    )
                    for n, c in spec["columns"].items()
                },
                loose_column_names=raw.get("loose_column_names", False),
            )
    return tables


def load_source(table: str, schemas_dir: Path = SCHEMAS_DIR) -> SourceTable:
    """The mapping of one source table (a `world.tables` / raw table name, e.g. "crm_contacts")."""
    tables = _source_tables(schemas_dir)
    if table not in tables:
        raise KeyError(f"no source mapping for table {table!r}; known: {sorted(tables)}")
    return tables[table]


def source_tables(schemas_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Every source table that has a mapping in `schemas/sources/`."""
    return sorted(_source_tables(schemas_dir))
