"""The validated operations a call stages: what every later stage (staging, sync) works from."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, overload

from ferry.ingest import ids


class Method(StrEnum):
    """The two Campaign ingestion methods."""

    INGEST = "Ingest"
    INGEST_EXT = "IngestExt"


class Op(StrEnum):
    """What a staged row asks the warehouse to do with its record."""

    INSERT = "insert"
    INSERT_OR_UPDATE = "insertOrUpdate"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Operation:
    """One record of a call, converted and checked against its schema.

    `key` is None for an insert without `_key` (a new record whose `id` is the staged UUID); the sync treats
    it as keyed on `id`. `values` holds exactly the attributes the document carried (partial updates).
    """

    uuid: uuid.UUID
    op: Op
    key: tuple[str, ...] | None
    values: dict[str, Any]
    position: int

    @property
    def reconciliation_key(self) -> tuple[str, ...]:
        """The attributes that identify the record when the operation is applied."""
        return self.key if self.key is not None else ("id",)


class Inserts(Sequence[Operation]):
    """A call's plain inserts (records without `_key`), held as columns: the COPY and the reply read the columns,
    and an `Operation` is built only when one is asked for (position i + 1, op insert, no key).

    `uuids`: each row's UUID, 16 bytes each end to end (`ids.uuid7_block`); `texts`: their canonical text;
    `values`: each record's converted values (with `id`), as `Operation.values`.
    """

    __slots__ = ("texts", "uuids", "values")

    def __init__(self, uuids: bytes, texts: list[str], values: list[dict[str, Any]]) -> None:
        self.uuids = uuids
        self.texts = texts
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    @overload
    def __getitem__(self, index: int) -> Operation: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Operation, ...]: ...

    def __getitem__(self, index: int | slice) -> Operation | tuple[Operation, ...]:
        if isinstance(index, slice):
            return tuple(self._operation(i) for i in range(*index.indices(len(self))))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("operation index out of range")
        return self._operation(index)

    def __iter__(self) -> Iterator[Operation]:
        return (self._operation(index) for index in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def _operation(self, index: int) -> Operation:
        number = int.from_bytes(self.uuids[16 * index:16 * index + 16], "big")
        return Operation(uuid=ids.from_int(number), op=Op.INSERT, key=None, values=self.values[index],
                         position=index + 1)


@dataclass(frozen=True)
class Call:
    """One accepted API call: its operations all target one staged schema."""

    schema_id: str
    method: Method
    operations: Sequence[Operation]  # a tuple, or `Inserts` (plain inserts held as columns)
    request_id: uuid.UUID = field(default_factory=ids.uuid7)
    operator: str | None = None
    origin: str = "api"
    run_id: uuid.UUID | None = None  # the script run that made this call (its calls share it), else None

    @property
    def result(self) -> str:
        """What Ingest returns: the ids of records inserted without `_key`, comma-separated; "" otherwise."""
        operations = self.operations
        if isinstance(operations, Inserts):
            return ",".join(str(values["id"]) for values in operations.values)
        return ",".join(str(op.values["id"]) for op in self.operations if op.key is None and op.op is Op.INSERT)
