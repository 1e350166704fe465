"""Subscribe / Unsubscribe → validated requests staged as `nms:subscription` rows (one per service).

A staged row: `action` (1 subscribe, 0 unsubscribe), `serviceName` (NULL = opt out of every channel),
`recipientKey` (reconciliation attributes, comma-separated), `recipientData` (the recipient's attributes as JSON
text values), `createRecipient`, `origin`, `requestedAt`. The row's `_uuid` becomes the id of a created recipient.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from lxml import etree
from psycopg_pool import ConnectionPool

from ferry import errors
from ferry.errors import FerryError
from ferry.ingest import Call, Method, Op
from ferry.ingest.operations import Operation
from ferry.schema.model import Schema
from ferry.schema.registry import SchemaRegistry
from ferry.schema.types import coerce
from ferry.subscriptions import ORIGINS, RECIPIENT_ID, SCHEMA_ID
from ferry.subscriptions.services import require_active, split_names

SUBSCRIBE, UNSUBSCRIBE = 1, 0
MAX_SERVICES = 100


@dataclass(frozen=True)
class Recipient:
    """A recipient document: reconciliation attributes and every attribute it carried (as text)."""

    key: tuple[str, ...]
    values: dict[str, str]


def _check(schema: Schema, key: tuple[str, ...], values: dict[str, str]) -> Recipient:
    for name, value in values.items():
        attribute = schema.attribute(name)
        if attribute is None:
            raise FerryError(errors.BAD_RECIPIENT, f"the recipient has no attribute {name!r}", attribute=name)
        try:
            coerce(attribute.type, value, attribute.length)
        except FerryError as exc:
            raise FerryError(errors.BAD_RECIPIENT, f"recipient @{name}: {exc.message}", attribute=name) from None
    for name in key:
        if schema.attribute(name) is None:
            raise FerryError(errors.BAD_RECIPIENT, f"_key names @{name}, which the recipient schema lacks")
        if not values.get(name, "").strip():
            raise FerryError(errors.BAD_RECIPIENT, f"the recipient carries no value for its key @{name}",
                             attribute=name)
    return Recipient(key, values)


def _parse_key(text: str | None) -> tuple[str, ...]:
    if text is None or not text.strip():
        return ("email",)
    names: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part.startswith("@") or len(part) < 2 or "/" in part:
            raise FerryError(errors.BAD_RECIPIENT, f"_key {text!r} must list attributes like \"@email\" or "
                             "\"@email,@account\"")
        names.append(part[1:])
    return tuple(names)


def recipient_from_xml(registry: SchemaRegistry, element: etree._Element | None) -> Recipient:
    """`<recipient _key="@email" email="a@x.com"/>` (any element name); `_key` defaults to `@email`."""
    if element is None:
        raise FerryError(errors.BAD_RECIPIENT, "the call carries no recipient: send <recipient email=\"…\"/>")
    values = {str(k): str(v) for k, v in element.attrib.items() if not str(k).startswith(("{", "xtkschema"))}
    key = _parse_key(values.pop("_key", None))
    values.pop("_operation", None)
    return _check(_recipient_schema(registry), key, values)


def recipient_from_json(registry: SchemaRegistry, data: Any) -> Recipient:
    """`{"email": "a@x.com", "_key": "@email"}`: scalar values only."""
    if not isinstance(data, dict) or not data:
        raise FerryError(errors.BAD_RECIPIENT, "the recipient must be a JSON object such as {\"email\": \"a@x.com\"}")
    values: dict[str, str] = {}
    key_text: str | None = None
    for name, value in data.items():
        if name == "_key":
            key_text = str(value)
        elif name in ("xtkschema", "_operation"):
            continue
        elif value is None or isinstance(value, dict | list):
            raise FerryError(errors.BAD_RECIPIENT, f"recipient @{name} must be a string, number or boolean",
                             attribute=str(name))
        else:
            values[str(name)] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return _check(_recipient_schema(registry), _parse_key(key_text), values)


def _recipient_schema(registry: SchemaRegistry) -> Schema:
    schema = registry.get(RECIPIENT_ID)
    if schema is None:  # pragma: no cover - built in
        raise FerryError(errors.UNKNOWN_SCHEMA, "nms:recipient is not installed")
    return schema


def build_request(pool: ConnectionPool, action: int, service_names: str | None, recipient: Recipient, *,
                  create: bool = False, origin: str = "api", operator: str | None = None) -> Call:
    """One call staging one row per service (checked active); Unsubscribe without services = global opt-out."""
    if origin not in ORIGINS:
        raise FerryError(errors.BAD_REQUEST, f"origin {origin!r} is not one of {', '.join(ORIGINS)}")
    names = split_names(service_names)
    if len(names) > MAX_SERVICES:
        raise FerryError(errors.BAD_REQUEST, f"at most {MAX_SERVICES} services per call")
    if not names and action == SUBSCRIBE:
        raise FerryError(errors.SERVICE_UNKNOWN, "Subscribe needs a service name")
    found = require_active(pool, names, allow_disabled=action == UNSUBSCRIBE)
    services: list[str | None] = [s.name for s in found] if names else [None]
    now = dt.datetime.now(dt.UTC)
    data = json.dumps(recipient.values, sort_keys=True)
    operations = []
    for position, name in enumerate(services, start=1):
        row_id = uuid.uuid4()
        values: dict[str, Any] = {
            "id": str(row_id), "serviceName": name, "action": action, "recipientKey": ",".join(recipient.key),
            "recipientData": data, "createRecipient": bool(create and action == SUBSCRIBE), "origin": origin,
            "requestedAt": now,
        }
        operations.append(Operation(row_id, Op.INSERT, None, values, position))
    return Call(SCHEMA_ID, Method.INGEST, tuple(operations), operator=operator, origin=origin)
