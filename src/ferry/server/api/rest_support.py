"""REST plumbing: errors as JSON replies, bounded body reading, documents → raw records."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from ferry import errors
from ferry.auth import AuthError
from ferry.errors import FerryError
from ferry.ingest.bounded import json_document, ndjson_lines
from ferry.ingest.documents import RawRecord, iter_ndjson, records_from_json
from ferry.schema.model import Schema
from ferry.schema.registry import SchemaRegistry
from ferry.server.door.limits import client_gone

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"})
JSON_TYPES = frozenset({"", "application/json", "text/json"})

_STATUS = {
    errors.UNKNOWN_SCHEMA.code: 404,
    errors.SCHEMA_NOT_STAGED.code: 404,
    errors.RECORD_NOT_FOUND.code: 404,
    errors.NOT_FOUND.code: 404,
    errors.QUERY_NO_TABLE.code: 404,
    errors.BODY_TOO_LARGE.code: 413,
    errors.DOCUMENT_TOO_LARGE.code: 413,
    errors.TOO_MANY_RECORDS.code: 413,
    errors.UNSUPPORTED_MEDIA_TYPE.code: 415,
    errors.MALFORMED_DOCUMENT.code: 400,
    errors.EMPTY_CALL.code: 400,
    errors.BAD_REQUEST.code: 400,
    errors.CLIENT_GONE.code: 400,
    errors.STAGING_UNAVAILABLE.code: 503,
    errors.STAGING_IN_DOUBT.code: 503,
    errors.WAREHOUSE_UNAVAILABLE.code: 503,
    errors.WAREHOUSE_TIMEOUT.code: 503,
    errors.WAREHOUSE_MISMATCH.code: 503,
    errors.WAREHOUSE_NOT_OPENED.code: 503,
    errors.ROLE_REFUSED.code: 503,
}
INTERNAL_CODE = errors.STAGING_UNAVAILABLE


def http_status(exc: FerryError) -> int:
    """The HTTP status of a refusal: auth errors carry theirs; bad records are 422."""
    if isinstance(exc, AuthError):
        return exc.http_status
    return _STATUS.get(exc.code.code, 422)


def error_response(exc: FerryError) -> JSONResponse:
    """`{error: {code, message, position?, attribute?}}` with the right status (and Retry-After on 429)."""
    body: dict[str, Any] = exc.to_dict()
    headers: dict[str, str] = {}
    if isinstance(exc, AuthError):
        body["campaignCode"] = exc.campaign_code
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        if exc.http_status == 401:
            headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": body}, status_code=http_status(exc), headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with FRY-600008 (413) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FerryError(errors.BODY_TOO_LARGE, f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise FerryError(errors.BODY_TOO_LARGE, f"the body is larger than the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise client_gone("REST") from None
    return b"".join(chunks)


def media_type(request: Request) -> str:
    """The Content-Type without parameters, lower case."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def parse_records(body: bytes, content_type: str, path_schema: str,
                  max_records: int | None = None) -> list[RawRecord]:
    """A JSON object, a JSON array, or NDJSON → raw records; a missing `xtkschema` is the URL's schema. Past
    `max_records` records the body is refused while it is read (FRY-100015), not after."""
    if content_type in NDJSON_TYPES:
        return list(iter_ndjson(ndjson_lines(body, max_records), default_schema=path_schema))
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        data = json_document(body, max_records)
        if not isinstance(data, dict | list):
            raise FerryError(errors.MALFORMED_DOCUMENT, "the body must be a JSON object (one record) or an array "
                             "of objects")
        return records_from_json(data, default_schema=path_schema)
    raise FerryError(errors.UNSUPPORTED_MEDIA_TYPE, f"content type {content_type!r} is not supported; send "
                     "application/json (an object or an array) or application/x-ndjson")


def check_same_schema(registry: SchemaRegistry, schema: Schema, records: list[RawRecord]) -> None:
    """Refuse a record naming another schema than the URL (either id of the same staged schema is fine)."""
    for record in records:
        named = record.xtkschema
        if named is None or named in (schema.id, schema.staging_id):
            continue
        try:
            other = registry.resolve_staged(named)
        except FerryError as exc:
            raise exc.at(record.position) from None
        if other.id != schema.id:
            raise FerryError(errors.MIXED_SCHEMAS, f"Record {record.position}: xtkschema {named!r} differs from the "
                             f"schema of the URL ({schema.id}); send one call per schema", position=record.position)
