"""The Ingest / IngestExt rules: raw records → validated operations (DESIGN.md §3)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest.documents import RawRecord
from ferry.ingest.operations import Call, Method, Op, Operation
from ferry.schema.model import ID_ATTRIBUTE, Schema
from ferry.schema.registry import SchemaRegistry
from ferry.schema.types import AttrType, coerce

_OPERATIONS = {op.value: op for op in Op}
_KEY_CACHE: dict[tuple[str, str], tuple[str, ...]] = {}


def parse_key(spec: str, schema: Schema) -> tuple[str, ...]:
    """`"@a, @b"` → `("a", "b")`, every name an attribute of `schema`."""
    cached = _KEY_CACHE.get((schema.id, spec))
    if cached is not None:
        return cached
    names: list[str] = []
    for part in spec.split(","):
        path = part.strip()
        if path.startswith("[") and path.endswith("]"):
            path = path[1:-1].strip()
        if not path.startswith("@") or "/" in path or len(path) < 2:
            raise FerryError(errors.BAD_KEY, f"_key {spec!r}: {path!r} is not an attribute path like @email")
        name = path[1:]
        if schema.attribute(name) is None:
            raise FerryError(errors.BAD_KEY, f"_key {spec!r}: {schema.id} has no attribute {name!r}", attribute=name)
        if name in names:
            raise FerryError(errors.BAD_KEY, f"_key {spec!r} names {name!r} twice", attribute=name)
        names.append(name)
    if not names:
        raise FerryError(errors.BAD_KEY, "_key is empty")
    key = tuple(names)
    if len(_KEY_CACHE) < 10_000:
        _KEY_CACHE[(schema.id, spec)] = key
    return key


def convert_values(schema: Schema, fields: dict[str, Any] | Any) -> dict[str, Any]:
    """Convert each field to its attribute's type; unknown names and bad values are refused."""
    values: dict[str, Any] = {}
    for name, raw in fields.items():
        attr = schema.attribute(name)
        if attr is None:
            raise FerryError(errors.UNKNOWN_ATTRIBUTE, f"{schema.id} has no attribute {name!r}", attribute=name)
        try:
            value = coerce(attr.type, raw, attr.length)
        except FerryError as exc:
            raise FerryError(exc.code, f"attribute {name!r}: {exc.message}", attribute=name) from None
        if attr.not_null and (value is None or value == "") and attr.type not in (AttrType.STRING, AttrType.MEMO):
            raise FerryError(errors.NOT_NULL, f"attribute {name!r} cannot be empty", attribute=name)
        values[name] = value
    return values


def _operation_of(method: Method, record: RawRecord) -> Op:
    text = record.operation
    if method is Method.INGEST:
        if text not in (None, "", "insert"):
            raise FerryError(errors.BAD_OPERATION, f"Ingest only inserts (got _operation={text!r}); use IngestExt "
                             "to update or delete")
        return Op.INSERT
    if text in (None, ""):
        return Op.INSERT_OR_UPDATE
    op = _OPERATIONS.get(text)
    if op is None:
        raise FerryError(errors.BAD_OPERATION, f"_operation {text!r} is not one of insert, insertOrUpdate, update, "
                         "delete")
    return op


def build_operation(schema: Schema, method: Method, record: RawRecord) -> Operation:
    """Apply the rules to one record of `schema`."""
    op = _operation_of(method, record)
    values = convert_values(schema, record.fields)
    key: tuple[str, ...] | None
    if record.key:
        key = parse_key(record.key, schema)
    elif op is Op.INSERT:
        key = None
    elif ID_ATTRIBUTE in values:
        key = (ID_ATTRIBUTE,)
    else:
        raise FerryError(errors.NO_KEY, f"IngestExt {op.value} needs a _key attribute (e.g. _key=\"@email\") or "
                         "the record's id")
    if key is not None:
        for name in key:
            if values.get(name) in (None, ""):
                raise FerryError(errors.MISSING_KEY_VALUE, f"key attribute {name!r} has no value", attribute=name)
    row_uuid = uuid.uuid4()
    if op is Op.DELETE:
        assert key is not None
        values = {name: values[name] for name in key}
    elif op is Op.INSERT and values.get(ID_ATTRIBUTE) in (None, ""):
        # The new record's internal key is the staged row's UUID (insertOrUpdate gets it at apply time).
        values[ID_ATTRIBUTE] = str(row_uuid)
    return Operation(uuid=row_uuid, op=op, key=key, values=values, position=record.position)


def build_call(
    registry: SchemaRegistry,
    method: Method,
    records: Sequence[RawRecord],
    *,
    operator: str | None = None,
    origin: str = "api",
    max_records: int | None = None,
) -> Call:
    """Validate every record of one call; the first error (with its position) refuses the whole call."""
    if not records:
        raise FerryError(errors.EMPTY_CALL, "the document holds no record")
    if max_records is not None and len(records) > max_records:
        raise FerryError(errors.TOO_MANY_RECORDS, f"{len(records)} records in one call; the limit is {max_records}")
    schema = _schema_of(registry, records)
    operations = tuple(_located(schema, method, record) for record in records)
    return Call(schema_id=schema.id, method=method, operations=operations, operator=operator, origin=origin)


def _located(schema: Schema, method: Method, record: RawRecord) -> Operation:
    try:
        return build_operation(schema, method, record)
    except FerryError as exc:
        raise exc.at(record.position) from None


def _schema_of(registry: SchemaRegistry, records: Iterable[RawRecord]) -> Schema:
    schema: Schema | None = None
    for record in records:
        try:
            found = registry.resolve_staged(record.xtkschema)
        except FerryError as exc:
            raise exc.at(record.position) from None
        if schema is None:
            schema = found
        elif found.id != schema.id:
            raise FerryError(errors.MIXED_SCHEMAS, f"record {record.position} names {found.id} but the call "
                             f"started with {schema.id}; send one call per schema", position=record.position)
    assert schema is not None
    return schema
