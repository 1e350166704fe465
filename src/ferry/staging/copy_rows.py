"""Staged rows encoded for `COPY … (FORMAT BINARY)` in one buffer, the bytes psycopg's `write_row` would send.

The common column types (text, integers, floats, booleans) are encoded here, a row at a time from a plan per set
of present attributes (which columns hold a value, the NULLs between them encoded once); dates and times go
through psycopg's own binary dumper for the column's type, as `Copy.set_types` would. Plain inserts (`Inserts`)
are read from their columns, with no `Operation` per row.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import abc, pq
from psycopg.adapt import Transformer

from ferry.ingest.operations import Call, Inserts

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
_UUID_LENGTH = b"\x00\x00\x00\x10"
_LENGTH = struct.Struct("!i").pack
_COUNT = struct.Struct("!h").pack
_TEXT_OID = 25
_ARRAY_HEAD = struct.Struct("!iiiii")
_EMPTY_ARRAY = struct.Struct("!iii")
_BOOLS = {True: b"\x00\x00\x00\x01\x01", False: b"\x00\x00\x00\x01\x00"}

Encoder = Callable[[Any], bytes]
# A plan for rows holding one set of attributes: `_present` cell and leading NULLs, then per value its steps.
_Plan = tuple[bytes, list[tuple[str, bool, Encoder, bytes]]]


def text_array(items: Sequence[str]) -> bytes:
    """A one-dimensional text[] in PostgreSQL's binary format (array_send): what psycopg sends for a list of str."""
    if not items:
        return _EMPTY_ARRAY.pack(0, 0, _TEXT_OID)
    parts = [_ARRAY_HEAD.pack(1, 0, _TEXT_OID, len(items), 1)]
    for item in items:
        data = item.encode("utf-8")
        parts.append(_LENGTH(len(data)))
        parts.append(data)
    return b"".join(parts)


def _cell(data: bytes) -> bytes:
    return _LENGTH(len(data)) + data


def _text(value: Any) -> bytes:
    data: bytes = value.encode("utf-8")
    return _LENGTH(len(data)) + data


def _packer(fmt: str, size: int) -> Encoder:
    pack = struct.Struct("!i" + fmt).pack

    def encode(value: Any) -> bytes:
        return pack(size, value)

    return encode


_NATIVE: dict[str, tuple[type, Encoder]] = {
    "varchar": (str, _text), "text": (str, _text), "int2": (int, _packer("h", 2)), "int4": (int, _packer("i", 4)),
    "int8": (int, _packer("q", 8)), "float8": (float, _packer("d", 8)), "bool": (bool, _BOOLS.__getitem__),
}


def _column_encoder(transformer: abc.Transformer, type_name: str) -> Encoder:
    """The encoder of one column's cell (length and data), NULL for None: native for the common Python type of
    the column, psycopg's binary dumper for that column type otherwise (the one `Copy.set_types` picks)."""
    info = transformer.adapters.types[type_name]
    assert info is not None
    # As psycopg's Transformer.get_dumper_by_oid builds it for `set_types`.
    dumper = transformer.adapters.get_dumper_by_oid(info.oid, pq.Format.BINARY)(type(None), transformer)
    native = _NATIVE.get(type_name)

    def generic(value: Any) -> bytes:
        data = None if value is None else dumper.dump(value)
        return NULL if data is None else _cell(bytes(data))

    if native is None:
        return generic
    kind, encode = native

    def common(value: Any) -> bytes:
        if type(value) is kind:
            return encode(value)
        return generic(value)

    return common


class RowEncoder:
    """Encodes a staged schema's rows (head columns `_uuid, _request_id, _op, _key, _present`, then `names`) for
    one connection; plans and arrays are kept for the rows that follow."""

    def __init__(self, conn: psycopg.Connection[Any], names: Sequence[str], types: Sequence[str]) -> None:
        self.names = tuple(names)
        transformer = Transformer.from_context(conn)
        self.encoders = [_column_encoder(transformer, type_name) for type_name in types]
        # Columns whose str values are encoded inline in `encode` (no call per value).
        self.text = [_NATIVE.get(type_name, (None,))[0] is str for type_name in types]
        self.position = {name: index for index, name in enumerate(self.names)}
        # Each row starts with its number of columns, then the length of its UUID.
        self.start = _COUNT(5 + len(self.names)) + _UUID_LENGTH
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._keys: dict[tuple[str, ...], bytes] = {}
        self._ops: dict[str, bytes] = {}

    def _plan(self, present: tuple[str, ...]) -> _Plan:
        """For rows holding `present`: the `_present` cell and the NULLs before the first value, then per value
        in column order its name, whether a str is encoded inline, its encoder and the NULLs after it (up to the
        next value or the row's end)."""
        found = self._plans.get(present)
        if found is not None:
            return found
        columns = sorted(self.position[name] for name in present if name in self.position)
        steps: list[tuple[str, bool, Encoder, bytes]] = []
        lead = NULL * (columns[0] if columns else len(self.names))
        for index, column in enumerate(columns):
            following = columns[index + 1] if index + 1 < len(columns) else len(self.names)
            steps.append((self.names[column], self.text[column], self.encoders[column],
                          NULL * (following - column - 1)))
        plan = (_cell(text_array(present)) + lead, steps)
        self._plans[present] = plan
        return plan

    def _key(self, key: tuple[str, ...] | None) -> bytes:
        if key is None:
            return NULL
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = _cell(text_array(key))
        return found

    def _op(self, op: str) -> bytes:
        found = self._ops.get(op)
        if found is None:
            found = self._ops[op] = _text(op)
        return found

    def encode(self, calls: Sequence[Call]) -> bytearray:
        """The whole COPY data of `calls`' rows: signature, rows in order, trailer."""
        out = bytearray(SIGNATURE)
        start = self.start
        values_into = self._values_into
        for call in calls:
            request = _UUID_LENGTH + call.request_id.bytes
            operations = call.operations
            if isinstance(operations, Inserts):
                # Every row: a new UUID, insert, no key; only the values differ.
                middle = request + self._op("insert") + NULL
                uuids = operations.uuids
                for offset, values in zip(range(0, len(uuids), 16), operations.values, strict=True):
                    out += start
                    out += uuids[offset:offset + 16]
                    out += middle
                    values_into(out, values)
                continue
            for op in operations:
                values = op.values
                out += start
                out += op.uuid.bytes
                out += request
                out += self._op(op.op.value)
                out += self._key(op.key)
                values_into(out, values)
        out += TRAILER
        return out

    def _values_into(self, out: bytearray, values: dict[str, Any]) -> None:
        """Append one row's attribute fields (its plan's NULL runs between them) to `out`."""
        present = tuple(values)
        head, steps = self._plans.get(present) or self._plan(present)
        out += head
        length = _LENGTH
        for name, text, encode, gap in steps:
            value = values[name]
            if text and type(value) is str:
                data = value.encode()
                out += length(len(data))
                out += data
            elif value is None:
                out += NULL
            else:
                out += encode(value)
            out += gap
