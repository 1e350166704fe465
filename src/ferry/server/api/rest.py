"""The REST API under `/api/v1`: logon / logoff, the state of what was sent, schemas and status; the ingest routes
come from `ferry.server.api.ingest`.

`build_router(runtime)` returns a router that already carries the `/api/v1` prefix: `app.include_router(...)`.
"""

# No `from __future__ import annotations`: FastAPI must see the real types of the nested endpoints'
# dependencies (local names), which string annotations would hide from it.

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from psycopg import sql

from ferry import errors
from ferry.auth import Authenticator, Operator, rights
from ferry.errors import FerryError
from ferry.server.api import ingest
from ferry.server.api.rest_models import (
    AttributeView,
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
from ferry.server.api.rest_support import (
    API_PREFIX,
    ERROR_RESPONSES,
    PROTOCOL,
    FerryRoute,
    caller_dependency,
    tokens,
)
from ferry.server.door import zones
from ferry.staging.ddl import table_ident

# Records one answer of GET /requests/{id} holds (a run's id can name any number of calls): as the other lists.
DEFAULT_REQUEST_RECORDS = 1000
MAX_REQUEST_RECORDS = 10_000


def build_router(runtime: Any, current_operator: Any = None) -> APIRouter:
    """The `/api/v1` router bound to `runtime` (settings, db, registry, writer, auth)."""
    router = APIRouter(prefix=API_PREFIX, route_class=FerryRoute, responses=ERROR_RESPONSES)
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

    ingest.add_routes(router, runtime, Caller)

    @router.get("/records/{record_uuid}", response_model=RecordState, tags=["state"],
                summary="State of one staged record")
    async def record(record_uuid: str, operator: Caller) -> RecordState:
        """staged, synced, skipped (with reason) or failed (with error)."""
        found = await asyncio.to_thread(_record_state, runtime, _parse_uuid(record_uuid, "record"), operator)
        if found is None:
            raise _not_found("record", record_uuid)
        return found

    @router.get("/requests/{request_id}", response_model=RequestState, tags=["state"],
                summary="State of one call and of each of its records (a page of them)")
    async def request_state(
        request_id: str, operator: Caller,
        limit: Annotated[int, Query(ge=1, le=MAX_REQUEST_RECORDS, description="Records in this page (a script "
                                    "run's id lists every call of the run: page through it)")]
        = DEFAULT_REQUEST_RECORDS,
        offset: Annotated[int, Query(ge=0, description="Records to skip, counted as sent (call after call for a "
                                     "run); the answer's `nextOffset` is the next page's")] = 0,
    ) -> RequestState:
        """Records in document order with their state; operators see only their own calls unless admin. At most
        `limit` records a page: `nextOffset` (null on the last page) is the `offset` of the next one."""
        head = await asyncio.to_thread(lambda: runtime.db.store.request(_parse_uuid(request_id, "request"),
                                                                        limit=limit, offset=offset))
        if head is None or not _may_see(operator, head.get("operator")):
            raise _not_found("request", request_id)
        return _request_state(head, limit, offset)

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


def _request_state(head: dict[str, Any], limit: int, offset: int) -> RequestState:
    # A record's position is in its own call's document (a script run lists several calls, one after another).
    records = [_record_view(row, row.get("position")) for row in head["records"]]
    counts: dict[str, int] = {}
    for item in records:
        counts[item.state] = counts.get(item.state, 0) + 1
    following = offset + limit if offset + limit < int(head["record_count"]) else None
    return RequestState(requestId=str(head["id"]), schema=head["schema_id"], method=head["method"],
                        operator=head["operator"], origin=head["origin"], receivedAt=head["received_at"],
                        recordCount=head["record_count"], counts=counts, records=records,
                        runId=None if head.get("run_id") is None else str(head["run_id"]),
                        offset=offset, nextOffset=following)


def _schema_view(schema: Any) -> SchemaView:
    return SchemaView(
        id=schema.id, stagingId=schema.staging_id, label=schema.label,
        attributes=[AttributeView(name=attr.name, type=str(attr.type), length=attr.length, notNull=attr.not_null,
                                  label=attr.label) for attr in schema.attributes],
        keys=[KeyView(name=key.name, fields=list(key.fields), internal=key.internal) for key in schema.keys],
    )

