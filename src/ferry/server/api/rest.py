"""The REST API under `/api/v1`: logon / logoff, ingest and ingest-ext per schema, state of what was sent.

`build_router(runtime)` returns a router that already carries the `/api/v1` prefix: `app.include_router(...)`.
"""

# No `from __future__ import annotations`: FastAPI must see the real types of the nested endpoints'
# dependencies (local names), which string annotations would hide from it.

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from psycopg import sql

from ferry import errors
from ferry.auth import Authenticator, Operator, rights
from ferry.errors import FerryError
from ferry.ingest import Call, Method, Op, build_call
from ferry.schema.model import Schema
from ferry.server.api import metrics
from ferry.server.api.rest_models import (
    AttributeView,
    ErrorReply,
    IngestReply,
    KeyView,
    LogoffReply,
    LogonReply,
    LogonRequest,
    OperatorView,
    RecordState,
    RequestState,
    SchemaStatusView,
    SchemaView,
    StatusReply,
)
from ferry.server.api.rest_support import check_same_schema, error_response, media_type, parse_records, read_body
from ferry.server.door import route_rights, zones
from ferry.staging.ddl import table_ident
from ferry.staging.idempotency import MAX_KEY_LENGTH, Claim, fingerprint

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
PROTOCOL = "rest"
# Set on the answer of a repeated Idempotency-Key (the first call's status and body, nothing staged).
REPLAYED_HEADER = "Idempotent-Replayed"
# Parsing and validating a big body is CPU work: off the event loop above this size.
_THREAD_BODY_BYTES = 256 * 1024

_bearer = HTTPBearer(auto_error=False, scheme_name="BearerSession", description="The session token from logon.")
_session_header = APIKeyHeader(name="X-Session-Token", auto_error=False, scheme_name="SessionToken",
                               description="The session token (Campaign style), instead of a bearer token.")
_security_header = APIKeyHeader(name="X-Security-Token", auto_error=False, scheme_name="SecurityToken",
                                description="The security token from logon; always required with the session token.")
_session_cookie = APIKeyCookie(name="__sessiontoken", auto_error=False, scheme_name="SessionCookie",
                               description="The session token as a cookie.")

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorReply, "description": text}
    for status, text in ((400, "Malformed request or document"), (401, "Missing, unknown or expired tokens"),
                         (403, "No right on this schema"), (404, "Unknown schema, record or request"),
                         (413, "Body or call too large"), (415, "Unsupported content type"),
                         (422, "A record is refused (code, position, attribute)"), (429, "Rate limit exceeded"),
                         (503, "Staging unavailable"))
}

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


class FerryRoute(APIRoute):
    """Turns every refusal into `{error: {...}}` with its status and counts each call in the metrics."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        method = self.name

        async def handler(request: Request) -> Response:
            started = time.perf_counter()
            outcome, code = "ok", None
            try:
                response = await original(request)
            except Exception as exc:
                response, outcome, code = refusal(exc, method)
            staged: tuple[str, int] | None = getattr(request.state, "ferry_staged", None)
            metrics.observe_call(request.app, method, PROTOCOL, outcome, time.perf_counter() - started,
                                 records=staged[1] if staged else 0, schema=staged[0] if staged else None, code=code)
            return response

        return handler


def refusal(exc: Exception, method: str) -> tuple[JSONResponse, str, str]:
    """The error reply of a REST call that raised `exc`, with its metrics outcome and code."""
    if isinstance(exc, FerryError):
        response = error_response(exc)
        return response, ("error" if response.status_code >= 500 else "refused"), exc.code.code
    if isinstance(exc, RequestValidationError):
        return (error_response(FerryError(errors.BAD_REQUEST, _validation_message(exc))), "refused",
                errors.BAD_REQUEST.code)
    log.error("REST %s failed", method, exc_info=exc)
    response = error_response(FerryError(errors.STAGING_UNAVAILABLE, "the call failed inside ferry; "
                                         "nothing was staged by it. Retry, or see the server log"))
    return response, "error", errors.STAGING_UNAVAILABLE.code


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "invalid request: " + "; ".join(parts)


async def tokens(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    session_header: Annotated[str | None, Security(_session_header)],
    security: Annotated[str | None, Security(_security_header)],
    cookie: Annotated[str | None, Security(_session_cookie)],
) -> tuple[str | None, str | None]:
    """The (session, security) token pair of a REST call, wherever the client put the session token."""
    session = bearer.credentials if bearer is not None else session_header or cookie
    return session, security


def request_tokens(request: Request) -> tuple[str | None, str | None]:
    """`tokens` read straight from a request, as FastAPI's four security schemes (auto_error off) read them."""
    headers = request.headers
    authorization = headers.get("authorization")
    scheme, _, credentials = (authorization or "").partition(" ")
    credentials = credentials.strip()
    if authorization and scheme and credentials and scheme.lower() == "bearer":
        session: str | None = credentials
    else:
        session = headers.get("x-session-token") or None
        if session is None:
            session = request.cookies.get("__sessiontoken") or None
    return session, headers.get("x-security-token") or None


async def caller(auth: Authenticator, session: str | None, security: str | None, *,
                 session_only: bool = False) -> Operator:
    """The operator calling with this token pair, after spending one call of its rate limit.

    `session_only`: the call comes from a `sessionTokenOnly` zone (`ferry.server.door.zones`)."""
    operator = await auth.check_async(session, security, session_only=session_only)
    auth.rate_limit(operator)
    return operator


def caller_dependency(runtime: Any) -> Any:
    """The FastAPI dependency resolving the calling operator from its tokens, for every `/api/v1` router."""
    auth: Authenticator = runtime.auth

    async def current_operator(
        request: Request,
        pair: Annotated[tuple[str | None, str | None], Depends(tokens)],
    ) -> Operator:
        zone = zones.session_token_only(runtime.settings, zones.client_address(request))
        operator = await caller(auth, *pair, session_only=zone)
        route_rights.enforce_request(request, operator)  # the route's rule (ferry.server.door.route_rights)
        return operator

    return current_operator


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

    async def __call__(self, request: Request, schema_name: str, method: Method, operator: Operator) -> Response:
        """Check the right, read and validate the body, stage it (group commit) and answer the IngestReply."""
        runtime = self.runtime
        schema = await self.resolve(schema_name)
        registry = runtime.registry
        runtime.auth.require_ingest(operator, schema.id)
        body = await read_body(request, runtime.settings.max_body_bytes)
        content_type = media_type(request)

        def prepare() -> Call:
            records = parse_records(body, content_type, schema_name, runtime.settings.max_records_per_call)
            check_same_schema(registry, schema, records)
            return build_call(registry, method, records, operator=operator.login, origin=PROTOCOL,
                              max_records=runtime.settings.max_records_per_call)

        key = idempotency_key(request)
        call = await asyncio.to_thread(prepare) if len(body) > _THREAD_BODY_BYTES else prepare()
        reply = _ingest_reply(call)
        if key is None:
            await runtime.writer.submit(call)
        else:
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


def build_router(runtime: Any, current_operator: Any = None) -> APIRouter:
    """The `/api/v1` router bound to `runtime` (settings, db, registry, writer, auth)."""
    router = APIRouter(prefix=API_PREFIX, route_class=FerryRoute, responses=_ERRORS)
    auth: Authenticator = runtime.auth
    Caller = Annotated[Operator, Depends(current_operator or caller_dependency(runtime))]

    @router.post("/logon", response_model=LogonReply, tags=["session"], summary="Open a session")
    async def logon(request: Request, body: LogonRequest) -> LogonReply:
        """Check an operator's login and password; answer the session and security tokens."""
        result = await asyncio.to_thread(lambda: auth.logon(body.login, body.password, via=PROTOCOL,
                                                            address=zones.client_address(request)))
        return LogonReply(sessionToken=result.session_token, securityToken=result.security_token,
                          expiresAt=result.expires_at, operator=_operator_view(result.operator))

    @router.post("/logoff", response_model=LogoffReply, tags=["session"], summary="Close the session")
    async def logoff(request: Request, pair: Annotated[tuple[str | None, str | None], Depends(tokens)]
                     ) -> LogoffReply:
        """Revoke the session; its tokens are refused from now on."""
        zone = zones.session_token_only(runtime.settings, zones.client_address(request))
        await auth.check_async(*pair, session_only=zone)
        await asyncio.to_thread(auth.logoff, pair[0])
        return LogoffReply()

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

    @router.get("/records/{record_uuid}", response_model=RecordState, tags=["state"],
                summary="State of one staged record")
    async def record(record_uuid: str, operator: Caller) -> RecordState:
        """staged, synced, skipped (with reason) or failed (with error)."""
        found = await asyncio.to_thread(_record_state, runtime, _parse_uuid(record_uuid, "record"), operator)
        if found is None:
            raise _not_found("record", record_uuid)
        return found

    @router.get("/requests/{request_id}", response_model=RequestState, tags=["state"],
                summary="State of one call and of each of its records")
    async def request_state(request_id: str, operator: Caller) -> RequestState:
        """Records in document order with their state; operators see only their own calls unless admin."""
        head = await asyncio.to_thread(runtime.db.store.request, _parse_uuid(request_id, "request"))
        if head is None or not _may_see(operator, head.get("operator")):
            raise _not_found("request", request_id)
        return _request_state(head)

    @router.get("/schemas", response_model=list[SchemaView], tags=["schemas"], summary="Staged schemas")
    async def schemas(operator: Caller) -> list[SchemaView]:
        """The staged schemas this operator may read (every one for an admin), with attributes and keys."""
        return [_schema_view(schema) for schema in runtime.registry.staged() if rights.can_read(operator, schema.id)]

    @router.get("/status", response_model=StatusReply, tags=["state"], summary="Staging counts and lag")
    async def status(operator: Caller) -> StatusReply:
        """Rows per state and the age of the oldest unsynced row, per staged schema."""
        found = await asyncio.to_thread(runtime.db.store.status)
        return StatusReply(schemas=[
            SchemaStatusView(schema=item.schema_id, counts=item.counts, oldestUnsynced=item.oldest_unsynced,
                             lagSeconds=round(item.lag_seconds, 3))
            for item in found if rights.can_read(operator, item.schema_id)
        ])

    @router.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def unknown_route(path: str) -> Response:
        """Any other path under /api/v1 answers in the API's error format, not FastAPI's."""
        raise FerryError(errors.NOT_FOUND, f"no API route /api/v1/{path[:100]}; see /docs")

    return router


def _operator_view(operator: Operator) -> OperatorView:
    return OperatorView(login=operator.login, admin=operator.admin, schemas=sorted(operator.schemas))


def _ingest_reply(call: Call) -> Response:
    """The IngestReply of an accepted call, built as plain JSON: a 100k-record reply skips 100k pydantic objects.

    The bytes are JSONResponse's (compact, UTF-8, keys in this order); orjson writes those same bytes for these
    values (str, int, None) about twice as fast.
    """
    records = [
        {"position": op.position, "uuid": str(op.uuid), "state": "staged", "operation": op.op.value,
         "id": str(op.values["id"]) if op.op is Op.INSERT and "id" in op.values else None}
        for op in call.operations
    ]
    content = {"requestId": str(call.request_id), "schema": call.schema_id, "method": call.method.value,
               "result": call.result, "count": len(records), "records": records}
    try:
        body = orjson.dumps(content)
    except (TypeError, orjson.JSONEncodeError):  # e.g. a str json encodes and orjson refuses: json decides
        return JSONResponse(content)
    return Response(body, media_type=JSONResponse.media_type)


def _parse_uuid(text: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise _not_found(what, text) from None


def _not_found(what: str, ident: str) -> FerryError:
    return FerryError(errors.RECORD_NOT_FOUND, f"no {what} {ident[:64]!r} visible to this operator")


def _may_see(operator: Operator, owner: str | None) -> bool:
    # Someone else's request answers 404, not 403: its existence is not this operator's business.
    return operator.admin or owner == operator.login


def _record_state(runtime: Any, row_uuid: uuid.UUID, operator: Operator) -> RecordState | None:
    row = runtime.db.store.record(row_uuid)
    if row is None:
        return None
    schema = runtime.registry.get(row["schema"])
    with runtime.db.pool.connection() as conn:
        owner = conn.execute("SELECT operator FROM ferry.requests WHERE id = %s", (row["request_id"],)).fetchone()
        if owner is None or not _may_see(operator, owner[0]):
            return None
        position = None
        if schema is not None:
            query = sql.SQL("SELECT count(*) FROM {} WHERE _request_id = %s AND _seq <= %s").format(
                table_ident(schema))
            found = conn.execute(query, (row["request_id"], row["sequence"])).fetchone()
            position = int(found[0]) if found else None
    return _record_view(row, position)


def _record_view(row: dict[str, Any], position: int | None) -> RecordState:
    failed = row["state"] == "failed"
    return RecordState(uuid=str(row["uuid"]), schema=row["schema"], requestId=str(row["request_id"]),
                       position=position, operation=row["operation"], key=row["key"], state=row["state"],
                       reason=None if failed else row["reason"], error=row["reason"] if failed else None,
                       receivedAt=row["received_at"], doneAt=row["done_at"], values=row["values"])


def _request_state(head: dict[str, Any]) -> RequestState:
    records = [_record_view(row, index + 1) for index, row in enumerate(head["records"])]
    counts: dict[str, int] = {}
    for item in records:
        counts[item.state] = counts.get(item.state, 0) + 1
    return RequestState(requestId=str(head["id"]), schema=head["schema_id"], method=head["method"],
                        operator=head["operator"], origin=head["origin"], receivedAt=head["received_at"],
                        recordCount=head["record_count"], counts=counts, records=records)


def _schema_view(schema: Any) -> SchemaView:
    return SchemaView(
        id=schema.id, stagingId=schema.staging_id, label=schema.label,
        attributes=[AttributeView(name=attr.name, type=str(attr.type), length=attr.length, notNull=attr.not_null,
                                  label=attr.label) for attr in schema.attributes],
        keys=[KeyView(name=key.name, fields=list(key.fields), internal=key.internal) for key in schema.keys],
    )

