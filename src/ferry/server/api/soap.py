"""The Campaign SOAP router at `POST /nl/jsp/soaprouter.jsp` and the WSDL at `GET /nl/jsp/schemawsdl.jsp`.

Faults go out with HTTP 200 and a Campaign-style code first in `faultstring` (the Adobe SDK takes the first
`AAA-999999` as its errorCode). Token refusals start with `XSV-350008` / `XSV-350022`; unknown methods with
`SOP-330006`. A refused Ingest / IngestExt reads
`SOP-330011 Error while executing the method 'Ingest' of service 'xtk:session'. FRY-100005 Record 1: …`:
Campaign's code first (errorCode `SOP-330011`), ferry's code and message right after it (so they are in the
SDK's message), and ferry's `FRY-…` text alone in `<detail>`. Rate limiting is HTTP 429 (as Campaign's API).

Other modules add methods with `app.state.soap.add(urns, "Method", handler)`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree

import ferry
from ferry import errors, options
from ferry.auth import AuthError, Operator
from ferry.auth.rights import Access
from ferry.auth.session_check import SessionCheck, refusal_for
from ferry.errors import FerryError
from ferry.ingest import Call, Method, build_call, inserts, records_from_xml
from ferry.schema import not_served
from ferry.server.api import metrics
from ferry.server.api.public_url import own_base_url
from ferry.server.door import route_rights, zones
from ferry.server.door.limits import BodyTooLarge, read_limited
from ferry.soap import envelope, packages, schemas, writer, wsdl
from ferry.soap.envelope import SoapRequest, parse_request
from ferry.soap.writer import Output
from ferry.staging.group_commit import SessionRefused

log = logging.getLogger(__name__)

PROTOCOL = "soap"
SOAP_ROUTER_PATH = "/nl/jsp/soaprouter.jsp"
WSDL_PATH = "/nl/jsp/schemawsdl.jsp"
# Parsing and validating bigger bodies is CPU work for a worker thread; small unitary calls stay on the loop.
THREAD_BODY_BYTES = 64 * 1024
SESSION_URNS = frozenset({"xtk:session", "xtk:persist|xtk:session"})
PERSIST_URNS = frozenset({"xtk:session", "xtk:persist", "xtk:persist|xtk:session"})
SESSION_INVALID = "XSV-350008"
DOC_PARAMS = ("doc", "domDoc", "document")
# The server's identity, as serverInfo and the XtkDatabaseId option give it (`ferry.options`).
BUILD_NUMBER = options.BUILD_NUMBER
DATABASE_ID = options.DATABASE_ID
INSTANCE_NAME = options.INSTANCE_NAME


def threshold() -> int:
    """Body size above which lxml work moves to a worker thread (a function so tests can lower it)."""
    return THREAD_BODY_BYTES


@dataclass
class SoapContext:
    """What a method handler gets: the HTTP request, the parsed call, the runtime, the caller and the body size."""

    request: Request
    soap: SoapRequest
    runtime: Any
    operator: Operator | None
    body_size: int
    session_token: str | None = None
    staged: tuple[str, int] | None = None
    # A cached session still to confirm in staging (methods `confirms_session`: in the write staging the call).
    session_check: SessionCheck | None = None

    @property
    def big(self) -> bool:
        """True when the work on this call's document belongs in a worker thread."""
        return self.body_size > threshold()


Handler = Callable[[SoapContext], Awaitable[list[Output]]]


@dataclass(frozen=True)
class SoapMethod:
    """A method served for any of `urns`; `anonymous` methods (Logon) need no tokens; `confirms_session`
    methods confirm a cached session in the write that stages the call (`SoapContext.session_check`)."""

    urns: frozenset[str]
    name: str
    handler: Handler
    anonymous: bool = False
    confirms_session: bool = False


@dataclass
class SoapRouter:
    """The table of SOAP methods and the dispatch of one call."""

    runtime: Any
    methods: dict[str, list[SoapMethod]] = field(default_factory=dict)
    # The app's Metrics, found on the first call (one app per router).
    _metrics: metrics.Metrics | None = field(default=None, repr=False)

    def add(self, urns: Iterable[str], name: str, handler: Handler, *, anonymous: bool = False,
            confirms_session: bool = False) -> None:
        """Serve `urn#name` for every urn of `urns` (replacing an earlier handler for the same pair)."""
        method = SoapMethod(frozenset(urns), name, handler, anonymous, confirms_session)
        kept = [m for m in self.methods.get(name, []) if not (m.urns & method.urns)]
        self.methods[name] = [*kept, method]

    def find(self, urn: str, name: str) -> SoapMethod | None:
        """The method serving `urn#name`, or None."""
        for method in self.methods.get(name, ()):
            if urn in method.urns:
                return method
        return None

    async def handle(self, request: Request) -> Response:
        """One SOAP call → response or fault; never a traceback."""
        started = time.perf_counter()
        name, outcome, code = "unknown", "ok", None
        ctx: SoapContext | None = None
        check: SessionCheck | None = None
        try:
            try:
                limit = self.runtime.settings.max_body_bytes
                declared = request.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    raise BodyTooLarge(limit, int(declared))
                body = await read_limited(request, limit)
                max_records = self.runtime.settings.max_records_per_call
                soap = await asyncio.to_thread(parse_request, body, max_records) if len(body) > threshold() \
                    else parse_request(body, max_records)
                name = soap.method
                method = self.find(soap.urn, soap.method)
                if method is None:
                    outcome, code = "refused", "SOP-330006"
                    return _fault(f"SOP-330006 The method '{soap.method}' is not defined in SOAP service "
                                  f"'{soap.urn}'.", urn=soap.urn or "xtk:session")
                session, security = _tokens(request, soap)
                operator = None
                rule = route_rights.soap_rule(soap.method)
                if rule is None or rule.access is not Access.PUBLIC:
                    zone = zones.session_token_only_for(self.runtime.settings, request)
                    auth = self.runtime.auth
                    if method.confirms_session:
                        operator, check = await auth.check_deferred(session, security, session_only=zone)
                    else:
                        operator = await auth.check_async(session, security, session_only=zone)
                    auth.rate_limit(operator)
                ctx = SoapContext(request, soap, self.runtime, operator, len(body), session, session_check=check)
                if operator is not None:
                    route_rights.enforce(operator, rule, f"{soap.urn}#{soap.method}")
                outputs = await method.handler(ctx)
                if check is not None:
                    await check.confirm()  # a handler that did not write: confirm before answering
                return Response(writer.response(soap.urn, soap.method, outputs), media_type=writer.CONTENT_TYPE)
            except Exception as exc:
                settled = await refusal_for(check, exc)
                if settled is exc:
                    raise
                raise settled from None
        except BodyTooLarge as exc:
            outcome, code = "refused", exc.code.code
            return Response(writer.fault(exc.text), status_code=413, media_type=writer.CONTENT_TYPE,
                            headers={"Connection": "close"})
        except AuthError as exc:
            outcome, code = "refused", exc.campaign_code
            if exc.http_status == 429:
                headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after or 1)))}
                return Response(writer.fault(exc.text), status_code=429, media_type=writer.CONTENT_TYPE,
                                headers=headers)
            if exc.campaign_code.startswith("XSV-"):
                return _fault(exc.faultstring, detail=exc.text)
            return _execution_fault(ctx, exc)
        except FerryError as exc:
            outcome, code = "refused", exc.code.code
            if ctx is None:  # the request itself is not a usable SOAP call
                return _fault(exc.text)
            return _execution_fault(ctx, exc)
        except Exception:
            log.exception("SOAP call %s failed", name)
            outcome, code = "error", errors.SERVER_INTERNAL.code
            error = FerryError(errors.SERVER_INTERNAL, "the call failed inside ferry and nothing was staged by it; "
                               "retry, or see the server log")
            return _execution_fault(ctx, error, faultcode="SOAP-ENV:Server")
        finally:
            staged = ctx.staged if ctx is not None else None
            found = self._metrics
            if found is None:
                found = self._metrics = metrics.metrics_of(request.app)
            if found is not None:
                found.observe_call(name, PROTOCOL, outcome, time.perf_counter() - started,
                                   records=staged[1] if staged else 0, schema=staged[0] if staged else None,
                                   code=code)


def _fault(faultstring: str, *, detail: str | None = None, urn: str = "xtk:session",
           faultcode: str = "SOAP-ENV:Client") -> Response:
    return Response(writer.fault(faultstring, faultcode=faultcode, detail=detail, urn=urn),
                    media_type=writer.CONTENT_TYPE)


def _execution_fault(ctx: SoapContext | None, exc: FerryError, *, faultcode: str = "SOAP-ENV:Client") -> Response:
    method = ctx.soap.method if ctx is not None else "?"
    urn = ctx.soap.urn if ctx is not None else "xtk:session"
    return _fault(f"SOP-330011 Error while executing the method '{method}' of service '{urn}'. {exc.text}",
                  detail=exc.text, urn=urn, faultcode=faultcode)


def _tokens(request: Request, soap: SoapRequest) -> tuple[str | None, str | None]:
    """Session token: body `sessiontoken`, X-Session-Token, cookie, SOAP header; security token: header, SOAP header."""
    session = (soap.session_token or request.headers.get("x-session-token")
               or request.cookies.get(envelope.SESSION_COOKIE) or soap.header_session)
    security = request.headers.get("x-security-token") or soap.header_security
    return session or None, security or None


# -- xtk:session ------------------------------------------------------------------------------------------------


def user_info(operator: Operator) -> str:
    """`<userInfo>` as Campaign describes a session's operator: login, id, locale; its rights as children.

    The admin right is Campaign's `<login-right right='admin'/>`; ferry's per-schema rights (ingest and read) are
    `<schema-right schema='ns:name'/>` children, so a client sees what this operator may do. The packages ferry
    reports (`ferry.soap.packages`) are `<installed-package>` children, read by the SDK's `hasPackage`."""
    a = writer.attr
    rights = "<login-right right='admin'/>" if operator.admin else ""
    rights += "".join(f"<schema-right schema='{a(schema)}'/>" for schema in sorted(operator.schemas))
    return (f"<userInfo login='{a(operator.login)}' loginId='{operator.id}' loginCS='{a(operator.login)}' "
            "timezone='UTC' instanceLocale='en-US' locale='en-US' homeDir='' orgUnitId='0' theme=''>"
            f"{rights}{packages.installed_packages_xml()}</userInfo>")


def session_info(operator: Operator, settings: Any) -> str:
    """The `<sessionInfo>` Logon returns: `<serverInfo>` and `<userInfo>` are both required by the SDK."""
    now = writer.timestamp(dt.datetime.now(dt.UTC))
    ttl = int(settings.session_ttl)
    a = writer.attr
    server = (f"<serverInfo advisedClientBuildNumber='{BUILD_NUMBER}' buildNumber='{BUILD_NUMBER}' "
              f"commitId='ferry-{a(ferry.__version__)}' databaseId='{DATABASE_ID}' instanceName='{INSTANCE_NAME}' "
              "majNumber='8' "
              f"minNumber='7' minNumberTechnical='0' releaseName='ferry {a(ferry.__version__)}' servicePack='1' "
              f"sessionTimeOut='{ttl}' securityTimeOut='{ttl}' serverDate='{now}' "
              f"hostName='{a(socket.gethostname())}'/>")
    return f"<sessionInfo>{server}{user_info(operator)}</sessionInfo>"


async def logon(ctx: SoapContext) -> list[Output]:
    """`xtk:session#Logon`: login / password (or Adobe's strLogin / strPassword, else by position)."""
    login = ctx.soap.text(("login", "strLogin"), 1)
    password = ctx.soap.text(("password", "strPassword"), 2)
    address = zones.client_address(ctx.request)
    result = await asyncio.to_thread(lambda: ctx.runtime.auth.logon(login, password, address=address, via=PROTOCOL))
    return [writer.string("pstrSessionToken", result.session_token),
            writer.element("pSessionInfo", session_info(result.operator, ctx.runtime.settings)),
            writer.string("pstrSecurityToken", result.security_token)]


async def logoff(ctx: SoapContext) -> list[Output]:
    """`xtk:session#Logoff`: revoke the session."""
    await asyncio.to_thread(ctx.runtime.auth.logoff, ctx.session_token)
    return []


async def get_server_time(ctx: SoapContext) -> list[Output]:
    """`xtk:session#GetServerTime`."""
    return [writer.datetime("ptmServerTime", dt.datetime.now(dt.UTC))]


async def get_user_info(ctx: SoapContext) -> list[Output]:
    """`xtk:session#GetUserInfo`: the calling operator's `<userInfo>` (login, id, rights)."""
    assert ctx.operator is not None
    return [writer.element("pUserInfo", user_info(ctx.operator))]


async def get_entity_if_more_recent(ctx: SoapContext) -> list[Output]:
    """`xtk:persist#GetEntityIfMoreRecent` for `xtk:schema|…` / `xtk:srcSchema|…`: the schema; FRY-400030 for a
    Campaign schema ferry does not serve; an empty pdomDoc when unknown (as Campaign answers for a missing one)."""
    pk = ctx.soap.text(("pk",), 1).strip()
    schema_id = schemas.requested_schema(pk)
    operator = ctx.operator
    named = schema_id or ""
    data_schema = ctx.runtime.registry.get(named[:-3] if named.endswith("Stg") else named) or \
        ctx.runtime.registry.get(named)
    if data_schema is not None and operator is not None and not ctx.runtime.auth.can_read(operator, data_schema.id):
        # As REST /schemas: an operator sees only the schemas it may read (or write), never another's attributes.
        return [writer.element("pdomDoc", None)]
    found = schemas.describe(ctx.runtime.registry, pk)
    if found is None and schema_id is not None and await ctx.runtime.refresh_schemas():
        found = schemas.describe(ctx.runtime.registry, pk)
    if found is None and schema_id is not None and not_served.is_campaign_schema(schema_id):
        raise not_served.schema_fault(schema_id, "getSchema")
    return [writer.element("pdomDoc", found)]


def _prepare(ctx: SoapContext, method: Method, document: etree._Element) -> Call:
    operator = ctx.operator
    assert operator is not None
    registry, max_records = ctx.runtime.registry, ctx.runtime.settings.max_records_per_call
    # A collection of plain inserts is read straight into columns; anything else (errors too) the general way.
    call = inserts.xml_call(registry, document, operator=operator.login, origin=PROTOCOL, max_records=max_records) \
        if method is Method.INGEST else None
    if call is None:
        call = build_call(registry, method, records_from_xml(document), operator=operator.login, origin=PROTOCOL,
                          max_records=max_records)
    if not ctx.runtime.auth.can_ingest(operator, call.schema_id):
        raise AuthError(errors.FORBIDDEN, f"operator {operator.login!r} has no right to ingest into "
                        f"{call.schema_id}", http_status=403)
    return call


async def _stage(ctx: SoapContext, method: Method) -> Call:
    document = ctx.soap.document(DOC_PARAMS, 1)
    if document is None:
        raise FerryError(errors.EMPTY_CALL, "the call carries no document: send the record as the only child "
                         "element of the doc (or domDoc) parameter")
    try:
        call = await asyncio.to_thread(_prepare, ctx, method, document) if ctx.big \
            else _prepare(ctx, method, document)
    except FerryError as exc:
        # A schema applied by another process since this one loaded its registry: look again, once.
        if exc.code not in (errors.UNKNOWN_SCHEMA, errors.SCHEMA_NOT_STAGED) or not await ctx.runtime.refresh_schemas():
            raise
        call = _prepare(ctx, method, document)
    check = ctx.session_check
    session = check.take() if check is not None else None
    try:
        await ctx.runtime.writer.submit(call, session=session)
    except SessionRefused:
        assert check is not None and session is not None
        raise check.refused(session) from None
    ctx.staged = (call.schema_id, len(call.operations))
    return call


async def ingest(ctx: SoapContext) -> list[Output]:
    """`xtk:session#Ingest`: stage inserts; answer the new records' UUIDs ("" with `_key`) after commit."""
    call = await _stage(ctx, Method.INGEST)
    return [writer.string("pstrSUuids", call.result)]


async def ingest_ext(ctx: SoapContext) -> list[Output]:
    """`xtk:session#IngestExt`: stage insertOrUpdate / update / delete; empty response after commit."""
    await _stage(ctx, Method.INGEST_EXT)
    return []


def soap_router(runtime: Any) -> SoapRouter:
    """The SOAP method table with ferry's xtk:session methods."""
    router = SoapRouter(runtime)
    router.add(SESSION_URNS, "Logon", logon, anonymous=True)
    router.add(SESSION_URNS, "Logoff", logoff)
    router.add(SESSION_URNS, "GetServerTime", get_server_time)
    router.add(SESSION_URNS, "GetUserInfo", get_user_info)
    router.add(PERSIST_URNS, "GetEntityIfMoreRecent", get_entity_if_more_recent)
    router.add(PERSIST_URNS, "Ingest", ingest, confirms_session=True)
    router.add(PERSIST_URNS, "IngestExt", ingest_ext, confirms_session=True)
    return router


def build_router(runtime: Any, soap: SoapRouter) -> APIRouter:
    """HTTP routes of the SOAP side: the router endpoint and the WSDL."""
    api = APIRouter(tags=["soap"])

    @api.post(SOAP_ROUTER_PATH, summary="Campaign SOAP router (xtk:session#Logon, Ingest, IngestExt, …)",
              response_class=Response)
    async def soaprouter(request: Request) -> Response:
        return await soap.handle(request)

    @api.get(WSDL_PATH, summary="WSDL of a SOAP service (schema=xtk:session)", response_class=Response)
    async def schemawsdl(request: Request, schema: str = "xtk:session") -> Response:
        location = own_base_url(request, soap.runtime.settings) + SOAP_ROUTER_PATH
        known = schemas.describe(soap.runtime.registry, f"{schemas.ENTITY_SCHEMA}|{schema}") is not None
        text = wsdl.wsdl(schema, location, data_schema=known)
        if text is None:
            return Response(f"no WSDL for schema {schema!r}: it is not a schema ferry knows\n", status_code=404,
                            media_type="text/plain")
        return Response(text, media_type="text/xml;charset=utf-8")

    return api
