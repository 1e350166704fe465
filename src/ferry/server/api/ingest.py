"""REST Ingest / IngestExt, all of it: the FastAPI routes, the call they share, and the ASGI fast path.

`POST /api/v1/ingest{,-ext}/{schema}` is served straight from ASGI, without FastAPI's stack:

Unitary REST calls are a hot path; FastAPI's dependency solving and eight middleware layers cost more than the call
itself. This path answers exactly as the FastAPI routes do (they stay registered, for OpenAPI and for in-process
callers): the body limit of `BodyLimitMiddleware` (413 from Content-Length before anything else, 413 as an API error
while streaming), the tokens of `rest_support.tokens`, the caller's rate limit, `RestIngest`, the error replies and
metrics of `rest_support.FerryRoute`. Anything else goes to the app.
"""

# No `from __future__ import annotations`: FastAPI must see the real types of the routes' dependencies.

import asyncio
import time
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ferry import errors
from ferry.auth import Operator
from ferry.auth.session_check import SessionCheck, refusal_for
from ferry.errors import FerryError
from ferry.ingest import Call, Method, Op, build_call, inserts
from ferry.ingest.bounded import json_document, ndjson_lines
from ferry.ingest.documents import RawRecord, iter_ndjson, records_from_json
from ferry.ingest.operations import Inserts
from ferry.schema.model import Schema
from ferry.schema.registry import SchemaRegistry
from ferry.server.api import metrics
from ferry.server.api.rest_models import IngestReply
from ferry.server.api.rest_support import (
    API_PREFIX,
    PROTOCOL,
    deferred_caller,
    media_type,
    read_body,
    refusal,
    request_tokens,
)
from ferry.server.door import route_rights, zones
from ferry.server.door.limits import BodyTooLarge, content_length, limited_receive, reply_413
from ferry.server.process.runtime import Runtime
from ferry.staging.group_commit import SessionRefused
from ferry.staging.idempotency import MAX_KEY_LENGTH, Claim, fingerprint

# Set on the answer of a repeated Idempotency-Key (the first call's status and body, nothing staged).
REPLAYED_HEADER = "Idempotent-Replayed"
# Parsing and validating a big body is CPU work: off the event loop above this size.
_THREAD_BODY_BYTES = 256 * 1024
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"})
JSON_TYPES = frozenset({"", "application/json", "text/json"})

_INGEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One record (JSON object), several (JSON array), or NDJSON (one object per line). "
                       "`xtkschema` may be omitted (the URL names the schema); `_key` and `_operation` as in "
                       "Campaign.",
        "content": {
            "application/json": {
                "schema": {"oneOf": [{"type": "object", "additionalProperties": True},
                                     {"type": "array", "items": {"type": "object", "additionalProperties": True}}]},
                "example": [{"email": "ann@example.com", "firstName": "Ann"}],
            },
            "application/x-ndjson": {"schema": {"type": "string"},
                                     "example": '{"email": "ann@example.com"}\n{"email": "bob@example.com"}\n'},
        },
    }
}


class RestIngest:
    """Ingest / IngestExt over REST once the caller is known: shared by the routes and the ASGI fast path."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    async def resolve(self, schema_name: str) -> Schema:
        """The staged schema of the URL; a schema applied by another process since is looked up again, once."""
        runtime = self.runtime
        try:
            return runtime.registry.resolve_staged(schema_name)  # type: ignore[no-any-return]
        except FerryError as exc:
            refresh = getattr(runtime, "refresh_schemas", None)
            if exc.code not in (errors.UNKNOWN_SCHEMA, errors.SCHEMA_NOT_STAGED) or refresh is None \
                    or not await refresh():
                raise
        return runtime.registry.resolve_staged(schema_name)  # type: ignore[no-any-return]

    async def __call__(self, request: Request, schema_name: str, method: Method, operator: Operator,
                       check: SessionCheck | None = None) -> Response:
        """Check the right, read and validate the body, stage it (group commit) and answer the IngestReply.

        `check`: the caller's cached session, confirmed by the write that stages the call (`SessionCheck`)."""
        runtime = self.runtime
        schema = await self.resolve(schema_name)
        registry = runtime.registry
        runtime.auth.require_ingest(operator, schema.id)
        body = await read_body(request, runtime.settings.max_body_bytes)
        content_type = media_type(request)

        def prepare() -> Call:
            return prepare_call(registry, schema, method, body, content_type, schema_name, operator.login,
                                runtime.settings.max_records_per_call)

        key = idempotency_key(request)
        call = await asyncio.to_thread(prepare) if len(body) > _THREAD_BODY_BYTES else prepare()
        reply = _ingest_reply(call)
        if key is None:
            session = check.take() if check is not None else None
            try:
                await runtime.writer.submit(call, session=session)
            except SessionRefused:
                assert check is not None and session is not None
                raise check.refused(session) from None
        else:
            if check is not None:  # a kept answer is given without a write: confirm the session first
                await check.confirm()
            claim = Claim(operator.login, key, fingerprint(method.value, schema_name, content_type, body),
                          reply.status_code, bytes(reply.body))
            stored = await runtime.writer.submit(call, claim)
            if stored is not None:  # a repeat: the first answer again, nothing staged
                return Response(stored.body, status_code=stored.status, media_type=JSONResponse.media_type,
                                headers={REPLAYED_HEADER: "true"})
        request.state.ferry_staged = (call.schema_id, len(call.operations))
        return reply


def idempotency_key(request: Request) -> str | None:
    """The call's `Idempotency-Key` header, or None; refused (400) when empty or longer than 255 characters."""
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise FerryError(errors.BAD_REQUEST, f"the Idempotency-Key header must hold 1 to {MAX_KEY_LENGTH} "
                         "characters")
    return key


def add_routes(router: APIRouter, runtime: Any, Caller: Any) -> None:
    """The ingest and ingest-ext routes on the `/api/v1` router (OpenAPI, in-process callers)."""
    ingest_call = RestIngest(runtime)

    @router.post("/ingest/{schema}", response_model=IngestReply, tags=["ingest"], openapi_extra=_INGEST_BODY,
                 summary="Ingest: insert records (xtk:session#Ingest)")
    async def ingest(request: Request, schema: str, operator: Caller) -> Response:
        """Stage inserts; with `_key` an existing record is left untouched (its row ends `skipped`).

        The call is atomic: every record is staged, or none is and the first error names its position."""
        return await ingest_call(request, schema, Method.INGEST, operator)

    @router.post("/ingest-ext/{schema}", response_model=IngestReply, tags=["ingest"], openapi_extra=_INGEST_BODY,
                 summary="IngestExt: insertOrUpdate, update, delete (xtk:session#IngestExt)")
    async def ingest_ext(request: Request, schema: str, operator: Caller) -> Response:
        """Stage updates and deletes by `_key` (or `id`); `_operation` defaults to insertOrUpdate."""
        return await ingest_call(request, schema, Method.INGEST_EXT, operator)



def _ingest_reply(call: Call) -> Response:
    """The IngestReply of an accepted call, built as plain JSON: a 100k-record reply skips 100k pydantic objects.

    The bytes are JSONResponse's (compact, UTF-8, keys in this order); orjson writes those same bytes for these
    values (str, int, None) about twice as fast.
    """
    operations = call.operations
    if isinstance(operations, Inserts):  # the same records, read from the columns
        records = [{"position": index, "uuid": text, "state": "staged", "operation": "insert", "id": str(values["id"])}
                   for index, (text, values) in enumerate(zip(operations.texts, operations.values, strict=True), 1)]
    else:
        records = [
            {"position": op.position, "uuid": str(op.uuid), "state": "staged", "operation": op.op.value,
             "id": str(op.values["id"]) if op.op is Op.INSERT and "id" in op.values else None}
            for op in operations
        ]
    content = {"requestId": str(call.request_id), "schema": call.schema_id, "method": call.method.value,
               "result": call.result, "count": len(records), "records": records}
    try:
        body = orjson.dumps(content)
    except (TypeError, orjson.JSONEncodeError):  # e.g. a str json encodes and orjson refuses: json decides
        return JSONResponse(content)
    return Response(body, media_type=JSONResponse.media_type)


def prepare_call(registry: SchemaRegistry, schema: Schema, method: Method, body: bytes, content_type: str,
                 path_schema: str, operator: str, max_records: int | None) -> Call:
    """The body's validated call (FerryError when refused). Plain inserts are read straight into columns
    (`inserts.mapping_call`); anything else, and every refusal, goes through `build_call` from the decoded objects."""
    objects: list[Any] | None = None
    if content_type in NDJSON_TYPES:
        lines = ndjson_lines(body, max_records)
        objects = inserts.ndjson_objects(lines)
        if objects is None:  # a line orjson does not decode as json would: the general path words it
            records = list(iter_ndjson(lines, default_schema=path_schema))
    elif content_type in JSON_TYPES or content_type.endswith("+json"):
        data = _json_data(body, max_records)
        objects = data if isinstance(data, list) else [data]
    else:
        records = parse_records(body, content_type, path_schema, max_records)  # refused: not JSON
    if objects is not None:
        if method is Method.INGEST:
            call = inserts.mapping_call(registry, objects, path_schema, operator=operator, origin=PROTOCOL,
                                        max_records=max_records)
            if call is not None:
                return call
        records = records_from_json(objects, default_schema=path_schema)
    check_same_schema(registry, schema, records)
    return build_call(registry, method, records, operator=operator, origin=PROTOCOL, max_records=max_records)


def _json_data(body: bytes, max_records: int | None) -> Any:
    data = json_document(body, max_records)
    if not isinstance(data, dict | list):
        raise FerryError(errors.MALFORMED_DOCUMENT, "the body must be a JSON object (one record) or an array "
                         "of objects")
    return data


def parse_records(body: bytes, content_type: str, path_schema: str,
                  max_records: int | None = None) -> list[RawRecord]:
    """A JSON object, a JSON array, or NDJSON → raw records; a missing `xtkschema` is the URL's schema. Past
    `max_records` records the body is refused while it is read (FRY-100015), not after."""
    if content_type in NDJSON_TYPES:
        return list(iter_ndjson(ndjson_lines(body, max_records), default_schema=path_schema))
    if content_type in JSON_TYPES or content_type.endswith("+json"):
        return records_from_json(_json_data(body, max_records), default_schema=path_schema)
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


_ROUTES = ((API_PREFIX + "/ingest/", Method.INGEST, "ingest"),
           (API_PREFIX + "/ingest-ext/", Method.INGEST_EXT, "ingest_ext"))


def match(scope: Scope) -> tuple[Method, str, str] | None:
    """(method, route name, schema) when `scope` is a POST the FastAPI ingest routes would serve, else None."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path = _route_path(scope)
    if path.startswith("//"):  # as CollapseSlashesMiddleware rewrites it
        path = "/" + path.lstrip("/")
    for prefix, method, name in _ROUTES:
        if path.startswith(prefix):
            schema = path[len(prefix):]
            if schema and "/" not in schema:
                return method, name, schema
            return None
    return None


def _route_path(scope: Scope) -> str:
    """The path the router matches: `path` less `root_path` (as Starlette's routing computes it)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    return path[len(root_path):] if path[len(root_path)] == "/" else path


class RestIngestFastPath:
    """Serves the REST ingest routes from ASGI; every other request goes to the app itself."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.runtime: Runtime = app.state.runtime
        self.ingest = RestIngest(self.runtime)
        self.metrics: metrics.Metrics | None = None  # the app's, found on the first call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = match(scope)
        if found is None:
            await self.app(scope, receive, send)
            return
        method, name, schema = found
        runtime = self.runtime
        limit = runtime.settings.max_body_bytes
        declared = content_length(scope)
        if declared is not None and declared > limit:
            await reply_413(scope, send, BodyTooLarge(limit, declared))
            return
        scope["app"] = self.app
        request = Request(scope, limited_receive(receive, limit))
        started = time.perf_counter()
        outcome, code = "ok", None
        check: SessionCheck | None = None
        try:
            try:
                zone = zones.session_token_only_for(runtime.settings, scope)
                operator, check = await deferred_caller(runtime.auth, *request_tokens(request), session_only=zone)
                template = f"{API_PREFIX}/{name.replace('_', '-')}/{{schema}}"
                route_rights.enforce(operator, route_rights.http_rule("POST", template), f"POST {template}",
                                     {"schema": schema})
                response = await self.ingest(request, schema, method, operator, check)
                if check is not None:
                    await check.confirm()  # owed still when no write took it
            except Exception as exc:
                settled = await refusal_for(check, exc)
                if settled is exc:
                    raise
                raise settled from None
        except Exception as exc:
            response, outcome, code = refusal(exc, name)
        staged: tuple[str, int] | None = getattr(request.state, "ferry_staged", None)
        counted = self.metrics
        if counted is None:
            counted = self.metrics = metrics.metrics_of(self.app)
        if counted is not None:
            counted.observe_call(name, PROTOCOL, outcome, time.perf_counter() - started,
                               records=staged[1] if staged else 0, schema=staged[0] if staged else None, code=code)
        await response(scope, receive, send)
