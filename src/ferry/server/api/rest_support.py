"""REST plumbing shared by every `/api/v1` surface: the route class, the caller's tokens and rights, errors as JSON
replies, bounded body reading. It imports nothing of the surfaces themselves."""

# No `from __future__ import annotations`: FastAPI reads the real types of `tokens`' dependencies.

import logging
import math
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ferry import errors
from ferry.auth import Authenticator, AuthError, Operator
from ferry.auth.session_check import SessionCheck
from ferry.errors import FerryError
from ferry.logs import set_log_context
from ferry.server.api import metrics
from ferry.server.api.rest_models import ErrorReply
from ferry.server.door import route_rights, zones
from ferry.server.door.limits import BodyTooLarge, read_limited

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
PROTOCOL = "rest"

_bearer = HTTPBearer(auto_error=False, scheme_name="BearerSession", description="The session token from logon.")
_session_header = APIKeyHeader(name="X-Session-Token", auto_error=False, scheme_name="SessionToken",
                               description="The session token (Campaign style), instead of a bearer token.")
_security_header = APIKeyHeader(name="X-Security-Token", auto_error=False, scheme_name="SecurityToken",
                                description="The security token from logon; always required with the session token.")
_session_cookie = APIKeyCookie(name="__sessiontoken", auto_error=False, scheme_name="SessionCookie",
                               description="The session token as a cookie.")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorReply, "description": text}
    for status, text in ((400, "Malformed request or document"), (401, "Missing, unknown or expired tokens"),
                         (403, "No right on this schema"), (404, "Unknown schema, record or request"),
                         (413, "Body or call too large"), (415, "Unsupported content type"),
                         (422, "A record is refused (code, position, attribute)"), (429, "Rate limit exceeded"),
                         (503, "Staging unavailable"))
}

_STATUS = {
    errors.UNKNOWN_SCHEMA.code: 404,
    errors.SCHEMA_NOT_STAGED.code: 404,
    errors.RECORD_NOT_FOUND.code: 404,
    errors.NOT_FOUND.code: 404,
    errors.QUERY_NO_TABLE.code: 404,
    errors.WORKFLOW_UNKNOWN.code: 404,
    errors.WORKFLOW_BUSY.code: 409,
    errors.WORKFLOW_DISABLED.code: 409,
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
    """The request body, refused with FRY-600008 (413) from its Content-Length, or as soon as it passes `limit`
    bytes (the door's one bounded read, `read_limited`)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit, int(declared))
    return await read_limited(request, limit, where="REST")


def media_type(request: Request) -> str:
    """The Content-Type without parameters, lower case."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


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
        if _body_not_json(exc):
            media = FerryError(errors.UNSUPPORTED_MEDIA_TYPE, "the body must be a JSON object sent with "
                               "Content-Type: application/json (e.g. curl -H 'content-type: application/json' "
                               "-d '{\"login\": \"…\", \"password\": \"…\"}')")
            return error_response(media), "refused", errors.UNSUPPORTED_MEDIA_TYPE.code
        return (error_response(FerryError(errors.BAD_REQUEST, _validation_message(exc))), "refused",
                errors.BAD_REQUEST.code)
    log.error("REST %s failed", method, exc_info=exc)
    response = error_response(FerryError(errors.STAGING_UNAVAILABLE, "the call failed inside ferry; "
                                         "nothing was staged by it. Retry, or see the server log"))
    return response, "error", errors.STAGING_UNAVAILABLE.code


def _body_not_json(exc: RequestValidationError) -> bool:
    """True when the whole body was not read as a JSON object (no or another content type, or not an object)."""
    return any(tuple(error.get("loc", ())) == ("body",) and error.get("type") in ("model_attributes_type",
                                                                                    "dict_type")
               for error in exc.errors())


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
    set_log_context(operator=operator.login)  # on every line this call logs from here on
    auth.rate_limit(operator)
    return operator


async def deferred_caller(auth: Authenticator, session: str | None, security: str | None, *,
                          session_only: bool = False) -> tuple[Operator, SessionCheck | None]:
    """`caller`, with a cached session's confirmation in staging left to the write staging the call (or to the
    refusal): see `ferry.auth.session_check`."""
    operator, check = await auth.check_deferred(session, security, session_only=session_only)
    set_log_context(operator=operator.login)
    try:
        auth.rate_limit(operator)
    except AuthError as exc:
        raise (await check.settle(exc) if check is not None else exc) from None
    return operator, check


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
