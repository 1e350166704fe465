"""Subscriptions over SOAP (`nms:subscription#Subscribe` / `#Unsubscribe`), REST (`/api/v1/services/…`,
`/api/v1/optout`, `/api/v1/recipients/history`) and one-click unsubscribe pages (`/l/unsubscribe`, RFC 8058).

Every call validates at the door and returns once its request is staged (group committer); the replication
workflow applies it later. Wire-up: `register_soap(app.state.soap)`, `install_schema()`, `app.include_router(
build_router(runtime, caller))` before the REST catch-all, and `app.include_router(link_router(runtime))`.
"""

# No `from __future__ import annotations`: FastAPI must see the real types of the nested endpoints' dependencies.

import asyncio
import html
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from lxml import etree

from ferry import errors
from ferry.auth import AuthError, Operator
from ferry.errors import FerryError
from ferry.ingest import Call
from ferry.schema import builtin_schemas
from ferry.server.api.public_url import own_base_url
from ferry.server.api.rest_support import error_response, read_body
from ferry.server.api.soap import SoapContext, SoapRouter
from ferry.soap import catalog, schemas
from ferry.soap.envelope import SoapRequest
from ferry.soap.writer import Output
from ferry.subscriptions import SCHEMA_ID, links, reads, services
from ferry.subscriptions.requests import (
    SUBSCRIBE,
    UNSUBSCRIBE,
    Recipient,
    build_request,
    recipient_from_json,
    recipient_from_xml,
)

URNS = frozenset({"nms:subscription"})
METHODS = """  <methods>
    <method name="Subscribe" static="true"><parameters>
      <param name="service" type="string"/><param name="content" type="DOMElement"/>
      <param name="create" type="boolean"/></parameters></method>
    <method name="Unsubscribe" static="true"><parameters>
      <param name="service" type="string"/><param name="content" type="DOMElement"/></parameters></method>
  </methods>
"""
_STATUS = {errors.SERVICE_UNKNOWN.code: 404, errors.SERVICE_DISABLED.code: 409, errors.SERVICE_EXISTS.code: 409,
           errors.BAD_SERVICE.code: 400, errors.BAD_RECIPIENT.code: 400, errors.LINK_INVALID.code: 400,
           errors.LINK_EXPIRED.code: 400}


def install_schema() -> None:
    """Serve `nms:subscription` with its attributes and its static Subscribe / Unsubscribe methods."""
    schema = next(s for s in builtin_schemas() if s.id == SCHEMA_ID)
    text = catalog.data_schema_xml(schema)
    schemas.register(SCHEMA_ID, text.replace("</schema>", METHODS + "</schema>"))


# -- staging a request ----------------------------------------------------------------------------------------


async def _stage(runtime: Any, operator: Operator | None, action: int, service: str | None, recipient: Recipient,
                 create: bool, origin: str) -> Call:
    if operator is not None and not runtime.auth.can_ingest(operator, SCHEMA_ID):
        raise AuthError(errors.FORBIDDEN, f"operator {operator.login!r} has no right on {SCHEMA_ID}",
                        http_status=403)
    call = await asyncio.to_thread(build_request, runtime.db.pool, action, service, recipient, create=create,
                                   origin=origin, operator=operator.login if operator else None)
    await runtime.writer.submit(call)
    return call


# -- SOAP -----------------------------------------------------------------------------------------------------


def _recipient_element(soap: SoapRequest) -> etree._Element | None:
    param = soap.param(("content", "recipient"), 2)
    if param is None:
        return None
    children = [c for c in param if isinstance(c.tag, str)]
    if children:
        return children[0]
    # An SDK object written straight as the parameter's own attributes.
    return param if any(not str(k).startswith("{") for k in param.attrib) else None


def _flag(text: str) -> bool:
    return text.strip().lower() in ("true", "1")


async def soap_subscribe(ctx: SoapContext) -> list[Output]:
    """`nms:subscription#Subscribe(service, content, create)`: empty response once staged."""
    recipient = recipient_from_xml(ctx.runtime.registry, _recipient_element(ctx.soap))
    call = await _stage(ctx.runtime, ctx.operator, SUBSCRIBE, ctx.soap.text(("service", "serviceName"), 1),
                        recipient, _flag(ctx.soap.text(("create", "bCreate"), 3)), "soap")
    ctx.staged = (SCHEMA_ID, len(call.operations))
    return []


async def soap_unsubscribe(ctx: SoapContext) -> list[Output]:
    """`nms:subscription#Unsubscribe(service, content)`: no service = opt out of every channel."""
    recipient = recipient_from_xml(ctx.runtime.registry, _recipient_element(ctx.soap))
    call = await _stage(ctx.runtime, ctx.operator, UNSUBSCRIBE, ctx.soap.text(("service", "serviceName"), 1),
                        recipient, False, "soap")
    ctx.staged = (SCHEMA_ID, len(call.operations))
    return []


def register_soap(router: SoapRouter) -> None:
    """Serve Subscribe and Unsubscribe (and the schema description the SDK loads first)."""
    install_schema()
    router.add(URNS, "Subscribe", soap_subscribe)
    router.add(URNS, "Unsubscribe", soap_unsubscribe)


# -- REST -----------------------------------------------------------------------------------------------------


def _refusal(exc: FerryError) -> Response:
    response = error_response(exc)
    status = _STATUS.get(exc.code.code)
    if status is not None and not isinstance(exc, AuthError):
        return JSONResponse(json.loads(bytes(response.body)), status_code=status)
    return response


async def _json(request: Request, limit: int) -> dict[str, Any]:
    body = await read_body(request, limit)
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise FerryError(errors.MALFORMED_DOCUMENT, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise FerryError(errors.BAD_REQUEST, "the body must be a JSON object")
    return data


def _require_admin(operator: Operator) -> None:
    if not operator.admin:
        raise AuthError(errors.FORBIDDEN, "managing services needs the admin right", http_status=403)


def _accepted(call: Call) -> JSONResponse:
    return JSONResponse({"status": "staged", "requestId": str(call.request_id),
                         "rows": [str(op.uuid) for op in call.operations]}, status_code=202)


def build_router(runtime: Any, current_operator: Any) -> APIRouter:
    """`/api/v1/services…`, `/api/v1/optout`, `/api/v1/recipients/history` (include before the REST catch-all)."""
    from ferry.server.api.rest_support import API_PREFIX, FerryRoute

    api = APIRouter(prefix=API_PREFIX, tags=["subscriptions"], route_class=FerryRoute)
    Caller = Annotated[Operator, Depends(current_operator)]
    limit = runtime.settings.max_body_bytes

    async def guarded(work: Any) -> Response:
        try:
            result: Response = await work()
            return result
        except FerryError as exc:
            return _refusal(exc)

    @api.get("/services", summary="List the services")
    async def list_services(operator: Caller) -> Response:
        async def work() -> Response:
            found = await asyncio.to_thread(services.all_services, runtime.db.pool)
            return JSONResponse({"services": [s.to_dict() for s in found]})
        return await guarded(work)

    @api.post("/services", summary="Add a service (admin): {name, label, channel, validityDays}")
    async def add_service(request: Request, operator: Caller) -> Response:
        async def work() -> Response:
            _require_admin(operator)
            data = await _json(request, limit)
            validity = data.get("validityDays")
            if validity is not None and not isinstance(validity, int):
                raise FerryError(errors.BAD_SERVICE, "validityDays must be a whole number of days")
            service = await asyncio.to_thread(services.add, runtime.db.pool, str(data.get("name") or ""),
                                              label=str(data.get("label") or ""),
                                              channel=str(data.get("channel") or "email"), validity_days=validity)
            return JSONResponse(service.to_dict(), status_code=201)
        return await guarded(work)

    @api.post("/services/{name}/disable", summary="Disable a service (admin): new requests for it are refused")
    async def disable_service(name: str, operator: Caller) -> Response:
        async def work() -> Response:
            _require_admin(operator)
            service = await asyncio.to_thread(services.set_disabled, runtime.db.pool, name, True)
            return JSONResponse(service.to_dict())
        return await guarded(work)

    async def _request(request: Request, operator: Operator, action: int, service: str | None) -> Response:
        data = await _json(request, limit)
        recipient = recipient_from_json(runtime.registry, data.get("recipient"))
        origin = str(data.get("origin") or "api")
        if origin not in ("api", "import", "admin"):
            raise FerryError(errors.BAD_REQUEST, "origin must be api, import or admin over REST")
        call = await _stage(runtime, operator, action, service, recipient, data.get("create") is True, origin)
        request.state.ferry_staged = (SCHEMA_ID, len(call.operations))
        return _accepted(call)

    @api.post("/services/{name}/subscribe", status_code=202,
              summary="Stage a subscription: {recipient: {email, _key?}, create?}; name may be a comma list")
    async def subscribe(request: Request, name: str, operator: Caller) -> Response:
        return await guarded(lambda: _request(request, operator, SUBSCRIBE, name))

    @api.post("/services/{name}/unsubscribe", status_code=202, summary="Stage an unsubscription: {recipient}")
    async def unsubscribe(request: Request, name: str, operator: Caller) -> Response:
        return await guarded(lambda: _request(request, operator, UNSUBSCRIBE, name))

    @api.post("/optout", status_code=202, summary="Stage a global opt-out (blackList) of a recipient: {recipient}")
    async def optout(request: Request, operator: Caller) -> Response:
        return await guarded(lambda: _request(request, operator, UNSUBSCRIBE, None))

    @api.get("/services/{name}/subscribers", summary="Who is subscribed to the service now (warehouse)")
    async def subscribers(name: str, operator: Caller, limit_: Annotated[int, Query(alias="limit", ge=1, le=10000)]
                          = 1000, offset: Annotated[int, Query(ge=0)] = 0) -> Response:
        async def work() -> Response:
            await asyncio.to_thread(services.get, runtime.db.pool, name)
            found = await runtime.reads.run(
                lambda: reads.subscribers(runtime.warehouse, name, limit=limit_, offset=offset))
            return JSONResponse({"service": name, "subscribers": found})
        return await guarded(work)

    @api.get("/recipients/history", summary="A recipient's subscription history (warehouse), by email or id")
    async def history(operator: Caller, email: str | None = None, id: str | None = None) -> Response:
        async def work() -> Response:
            if not email and not id:
                raise FerryError(errors.BAD_REQUEST, "give email=… or id=…")
            found = await runtime.reads.run(lambda: reads.history(runtime.warehouse, email=email, recipient_id=id))
            return JSONResponse({"history": found})
        return await guarded(work)

    @api.post("/services/{name}/links", summary="A one-click unsubscribe link and its List-Unsubscribe headers")
    async def make_link(request: Request, name: str, operator: Caller) -> Response:
        async def work() -> Response:
            data = await _json(request, limit)
            email = str(data.get("email") or "")
            if not email:
                raise FerryError(errors.BAD_RECIPIENT, "give the recipient's email")
            ttl = float(data.get("ttlDays") or links.DEFAULT_TTL_DAYS) * 86_400
            service = None if name == "*" else (await asyncio.to_thread(services.get, runtime.db.pool, name)).name
            url, headers = await asyncio.to_thread(links.unsubscribe_link, runtime.db.pool,
                                                   own_base_url(request, runtime.settings), email, service,
                                                   ttl_seconds=ttl)
            return JSONResponse({"url": url, "headers": headers})
        return await guarded(work)

    return api


# -- one-click pages --------------------------------------------------------------------------------------------

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">
<style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}button{{font-size:1rem}}</style>
</head><body><h1>{title}</h1>{body}</body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def link_router(runtime: Any) -> APIRouter:
    """`GET /l/unsubscribe?t=…` (confirmation form) and `POST` (RFC 8058 one-click: stages the Unsubscribe)."""
    api = APIRouter(tags=["subscriptions"])

    async def claim(token: str) -> links.LinkClaim:
        key = await asyncio.to_thread(links.secret, runtime.db.pool)
        return links.read_token(key, token)

    @api.get(links.LINK_PATH, summary="One-click unsubscribe: confirmation page", response_class=HTMLResponse)
    async def confirm(t: str = "") -> Response:
        try:
            found = await claim(t)
        except FerryError as exc:
            return _page("Link not valid", f"<p>{html.escape(exc.message)}.</p>", 400)
        what = f"from <strong>{html.escape(found.service)}</strong>" if found.service else "from every message"
        who = html.escape(next(iter(found.values.values()), ""))
        form = (f'<p>Unsubscribe {who} {what}?</p><form method="post" action="{links.LINK_PATH}?t={html.escape(t)}">'
                '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
                '<button type="submit">Unsubscribe</button></form>')
        return _page("Unsubscribe", form)

    @api.post(links.LINK_PATH, summary="One-click unsubscribe (RFC 8058 List-Unsubscribe=One-Click)",
              response_class=HTMLResponse)
    async def one_click(request: Request, t: str = "") -> Response:
        try:
            await read_body(request, 64 * 1024)
            found = await claim(t)
            recipient = Recipient(found.key, found.values)
            await _stage(runtime, None, UNSUBSCRIBE, found.service, recipient, False, "link")
        except FerryError as exc:
            return _page("Link not valid" if exc.code in (errors.LINK_INVALID, errors.LINK_EXPIRED)
                         else "Could not unsubscribe", f"<p>{html.escape(exc.message)}.</p>", 400)
        return _page("Unsubscribed", "<p>Your request is recorded; you will not receive these messages any more.</p>")

    return api
