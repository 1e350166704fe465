"""The Ingest / IngestExt rules: raw records → validated operations (DESIGN.md §3)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest import ids
from ferry.ingest.documents import RawRecord
from ferry.ingest.operations import Call, Method, Op, Operation
from ferry.schema.model import ID_ATTRIBUTE, Attribute, Schema
from ferry.schema.registry import SchemaRegistry
from ferry.schema.types import INTEGER_RANGES, INTEGER_TEXT, SURROGATE, TEXT_TYPES, UUID_LENGTH, AttrType, coerce

_OPERATIONS = {op.value: op for op in Op}
_Converter = tuple[Attribute, Callable[[Any], Any], bool]
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
    return _convert(schema, _converters(schema), fields)


def _convert(schema: Schema, table: dict[str, _Converter], fields: dict[str, Any] | Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in fields.items():
        found = table.get(name)
        if found is None:
            raise FerryError(errors.UNKNOWN_ATTRIBUTE, f"{schema.id} has no attribute {name!r}", attribute=name)
        attr, fast, check_null = found
        value = fast(raw)
        if value is _SLOW:
            try:
                value = coerce(attr.type, raw, attr.length)
            except FerryError as exc:
                raise FerryError(exc.code, f"attribute {name!r}: {exc.message}", attribute=name) from None
        if check_null and (value is None or value == ""):
            raise FerryError(errors.NOT_NULL, f"attribute {name!r} cannot be empty", attribute=name)
        values[name] = value
    return values


# A converter's answer meaning "not a common case: ask `coerce`" (which also words every refusal).
_SLOW: Any = object()
_CONVERTERS: dict[str, tuple[Schema, dict[str, _Converter]]] = {}


def _converters(schema: Schema) -> dict[str, _Converter]:
    """Per attribute: (attribute, fast converter, whether an empty value is refused), built once per schema."""
    cached = _CONVERTERS.get(schema.id)
    if cached is not None and cached[0] is schema:
        return cached[1]
    table = {attr.name: (attr, _fast_converter(attr),
                         attr.not_null and attr.type not in (AttrType.STRING, AttrType.MEMO))
             for attr in schema.attributes}
    _CONVERTERS[schema.id] = (schema, table)
    return table


def _fast_converter(attr: Attribute) -> Callable[[Any], Any]:
    """The common cases of `coerce` for this attribute, answering exactly what `coerce` would; `_SLOW` otherwise."""
    if attr.type in TEXT_TYPES:
        limit = UUID_LENGTH if attr.type is AttrType.UUID else attr.length

        def text(value: Any) -> Any:
            # A str without NUL within the length is kept as is ("" included).
            if type(value) is str and (limit is None or len(value) <= limit) and "\x00" not in value \
                    and (value.isascii() or not SURROGATE.search(value)):
                return value
            return _SLOW

        return text
    if attr.type in INTEGER_RANGES:
        low, high = INTEGER_RANGES[attr.type]

        def integer(value: Any) -> Any:
            if type(value) is int and low <= value <= high:
                return value
            if type(value) is str and ((value.isdigit() and value.isascii()) or INTEGER_TEXT.fullmatch(value)):
                number = int(value)
                if low <= number <= high:
                    return number
            return _SLOW

        return integer
    return lambda value: _SLOW


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
    return _operation(schema, _converters(schema), method, record)


def _operation(schema: Schema, table: dict[str, _Converter], method: Method, record: RawRecord) -> Operation:
    op = _operation_of(method, record)
    values = _convert(schema, table, record.fields)
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
    row_uuid = ids.uuid7()
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
    run_id: uuid.UUID | None = None,
) -> Call:
    """Validate every record of one call; the first error (with its position) refuses the whole call. `run_id`:
    the script run making it (see `Call.run_id`)."""
    if not records:
        raise FerryError(errors.EMPTY_CALL, "the document holds no record")
    if max_records is not None and len(records) > max_records:
        raise FerryError(errors.TOO_MANY_RECORDS, f"{len(records)} records in one call; the limit is {max_records}")
    schema = _schema_of(registry, records)
    table = _converters(schema)
    operations: list[Operation] = []
    append = operations.append
    record = records[0]
    try:
        for record in records:
            append(_operation(schema, table, method, record))
    except FerryError as exc:
        raise exc.at(record.position) from None
    return Call(schema_id=schema.id, method=method, operations=tuple(operations), operator=operator, origin=origin,
                run_id=run_id)


def _schema_of(registry: SchemaRegistry, records: Iterable[RawRecord]) -> Schema:
    schema: Schema | None = None
    named: str | None = None
    for record in records:
        if schema is not None and record.xtkschema == named:
            continue  # the name the previous record used, so the same schema
        try:
            found = registry.resolve_staged(record.xtkschema)
        except FerryError as exc:
            raise exc.at(record.position) from None
        named = record.xtkschema
        if schema is None:
            schema = found
        elif found is not schema and found.id != schema.id:
            raise FerryError(errors.MIXED_SCHEMAS, f"record {record.position} names {found.id} but the call "
                             f"started with {schema.id}; send one call per schema", position=record.position)
    assert schema is not None
    return schema
