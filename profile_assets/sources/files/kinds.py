"""The kinds of partner file drop (contacts, orders): where files land, which raw table and
which `schemas/sources/files.yaml` mapping they feed, and the raw column naming rule.

Partners drop CSV, JSON Lines or Parquet files into `$PROFILE_ASSETS_HOME/drop/contacts/`
and `drop/orders/`; every other module of this package works in terms of a `DropKind`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from profile_assets.contracts.schema import SourceTable, load_source
from profile_assets.quarantine import rejections

SOURCE = "file_drop"


@dataclass(frozen=True)
class DropKind:
    """One kind of drop: where its files land, which raw table they feed, which source mapping
    in `schemas/sources/files.yaml` declares their columns, and the partner's id column."""

    name: str
    table: str
    source_table: str
    entity: str
    id_column: str

    @property
    def raw_id(self) -> str:
        return raw_name(self.id_column)

    @property
    def source_mapping(self) -> SourceTable:
        """Declared columns, their types and the zone of naive times (Europe/London)."""
        return load_source(self.source_table)

    def raw_types(self) -> dict[str, str]:
        """Raw column name -> the mapping's type, for every declared column."""
        return {raw_name(c.name): c.type for c in self.source_mapping.columns.values()}


CONTACTS = DropKind("contacts", "raw.file_contacts", "file_contacts", "person", "contact_ref")
ORDERS = DropKind("orders", "raw.file_orders", "file_orders", "order", "order_ref")
KINDS = (CONTACTS, ORDERS)

LOAD_COLUMNS = {
    **rejections.LOAD_COLUMNS,
    "_source": ("string", f"Always '{SOURCE}'."),
    "_op": ("string", "Always 'upsert': drops carry no deletes."),
    "_file": ("string", "Path of the file under drop/, e.g. contacts/partner.csv."),
    "_file_sha256": ("string", "Content hash of the file (see ops.loaded_files)."),
    "_file_modified_at": ("datetime", "File modification time (UTC): the newest file wins."),
    "_line": ("integer", "Line of the record in the file (row number for Parquet)."),
}


def raw_name(column: str) -> str:
    """Warehouse-safe name: 'First Name' -> first_name, 'E-mail' -> e_mail. It folds to the
    same key as the original, so staging's loose column matching still recognises it."""
    return re.sub(r"[^0-9a-z]+", "_", column.lower()).strip("_") or "column"
