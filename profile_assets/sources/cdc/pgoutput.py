"""Decoding pgoutput, Postgres' logical replication protocol, into committed transactions.

Kept apart from the slot and the warehouse so the byte-level format can be read and tested
without a database. Positions are commit *end* LSNs read from pgoutput's Commit message,
never the LSN column of the peek output: the first row of a transaction carries the
previous commit's end LSN.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from profile_assets.quarantine.rejections import DELETE, UPSERT


def lsn_to_int(lsn: str) -> int:
    """'16/B374D848' -> 0x16B374D848: LSNs as integers sort and compare correctly."""
    high, low = lsn.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def int_to_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass(slots=True)
class Change:
    """One row change; values are Postgres' text output of each column (None for NULL)."""

    table: str
    op: str
    values: dict[str, str | None]


@dataclass
class Transaction:
    """A committed source transaction. `commit_lsn` is the end of its commit record, the
    position a consumer confirms once it has applied the transaction."""

    commit_lsn: int
    changes: list[Change] = field(default_factory=list)


class _Reader:
    """Cursor over one pgoutput message (network byte order, C strings).

    The hot path (tuple data, run once per row change) avoids per-field struct calls.
    """

    _structs: dict[str, struct.Struct] = {}

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def unpack(self, fmt: str):
        layout = self._structs.get(fmt) or self._structs.setdefault(fmt, struct.Struct(fmt))
        values = layout.unpack_from(self.data, self.pos)
        self.pos += layout.size
        return values

    def string(self) -> str:
        end = self.data.index(b"\0", self.pos)
        text = self.data[self.pos : end].decode()
        self.pos = end + 1
        return text

    def tuple_data(self) -> list[str | None]:
        data, pos = self.data, self.pos
        count = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        values: list[str | None] = []
        for _ in range(count):
            kind = data[pos]
            pos += 1
            if kind == 0x74:  # 't': text
                length = int.from_bytes(data[pos : pos + 4], "big")
                pos += 4
                values.append(data[pos : pos + length].decode())
                pos += length
            elif kind == 0x6E:  # 'n': NULL
                values.append(None)
            else:
                # 'u' = unchanged TOASTed value: storefront rows are far below the TOAST
                # threshold; failing loudly beats writing a wrong NULL.
                raise ValueError(f"unsupported pgoutput column kind {chr(kind)!r}")
        self.pos = pos
        return values


def decode_pgoutput(messages: Iterable[bytes]) -> list[Transaction]:
    """Decode pgoutput (protocol 1) messages into committed transactions.

    Relation messages precede the first change of each table in every decoding session, so
    the relation map is local to one call. Heartbeat messages yield transactions without
    changes: they still carry a commit LSN the slot may advance to.
    """
    relations: dict[int, tuple[str, list[str]]] = {}
    done: list[Transaction] = []
    current: list[Change] = []
    for message in messages:
        reader = _Reader(bytes(message))
        (kind,) = reader.unpack("!c")
        if kind == b"B":
            current = []
        elif kind == b"C":
            _flags, _commit, end_lsn, _ts = reader.unpack("!bqqq")
            done.append(Transaction(commit_lsn=end_lsn, changes=current))
        elif kind == b"R":
            relid, table, columns = _relation(reader)
            relations[relid] = (table, columns)
        elif kind in (b"I", b"U", b"D"):
            current.append(_row_change(kind, reader, relations))
        elif kind not in (b"M", b"Y", b"O"):
            raise ValueError(f"unexpected pgoutput message {kind!r}")
    return done


def _relation(reader: _Reader) -> tuple[int, str, list[str]]:
    (relid,) = reader.unpack("!I")
    reader.string()  # namespace
    table = reader.string()
    _replica_identity, ncols = reader.unpack("!bh")
    columns = []
    for _ in range(ncols):
        reader.unpack("!b")
        columns.append(reader.string())
        reader.unpack("!Ii")
    return relid, table, columns


def _row_change(kind: bytes, reader: _Reader, relations: dict) -> Change:
    (relid,) = reader.unpack("!I")
    table, columns = relations[relid]
    (marker,) = reader.unpack("!c")
    if kind == b"U" and marker in (b"K", b"O"):
        reader.tuple_data()  # the old key: the new tuple below carries it too
        (marker,) = reader.unpack("!c")
    values = dict(zip(columns, reader.tuple_data(), strict=True))
    return Change(table=table, op=DELETE if kind == b"D" else UPSERT, values=values)
