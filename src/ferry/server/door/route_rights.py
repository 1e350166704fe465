"""The map of every route to the right it needs, and the one place that enforces it.

`HTTP_RULES[(method, path)]` covers every HTTP route of the app (OpenAPI or not); `SOAP_RULES[name]` every SOAP
method. `enforce(...)` checks what can be checked from the route alone (admin, fixed schemas, a schema in the path
or the query); a rule whose schema comes from the body, a run or a record (`source` `body`, `run`, `record`) is
checked by its handler with `rights.require_rule(operator, rule, schema)` once it knows the schema. A route with a
caller but no rule is refused (FRY-600017): a new route must be added here (tests/security/test_route_rights.py
fails until it is).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ferry import errors
from ferry.auth import rights
from ferry.auth.models import AuthError, Operator
from ferry.auth.rights import RECIPIENT, SUBSCRIPTION, SUBSCRIPTION_HISTORY, Access, Rule
from ferry.errors import Code
from ferry.schema import not_served

_DATA_READ = rights.Rule(Access.READ, (), "path:ns/name", "ExecuteQuery over REST")
_LINK = "authorised by the signed link token, not a session"
_FILTERED = "answers only the schemas the operator may read"
_WORKFLOWS = "workflows running as an operator whose rights the caller holds (admin: all); others are unknown"

HTTP_RULES: dict[tuple[str, str], Rule] = {
    # Documentation and health: public.
    ("GET", "/openapi.json"): rights.public("the API description"),
    ("GET", "/docs"): rights.public("Swagger UI"),
    ("GET", "/docs/openapi-3.0.json"): rights.public("the API description in OpenAPI 3.0, for Swagger UI"),
    ("GET", "/redoc"): rights.public("ReDoc"),
    ("GET", "/r/test"): rights.public("Campaign health check"),
    ("GET", "/healthz"): rights.public("liveness"),
    ("GET", "/nl/jsp/schemawsdl.jsp"): rights.public("service descriptions, no data"),
    ("GET", "/metrics"): Rule(Access.SCRAPE, note="metrics token or network (ferry.server.door.metrics_guard)"),
    # SOAP: each method has its own rule in SOAP_RULES.
    ("POST", "/nl/jsp/soaprouter.jsp"): rights.public("per method: SOAP_RULES"),
    ("GET", "/nl/jsp/ping.jsp"): rights.session("Campaign ping"),
    ("GET", "/nl/jsp/mcPing.jsp"): rights.session("Message Center ping"),
    # Sessions.
    ("POST", "/api/v1/logon"): rights.public("throttled per login and address"),
    ("POST", "/api/v1/logoff"): rights.session(),
    # Ingest and state.
    ("POST", "/api/v1/ingest/{schema}"): rights.write(source="path:schema"),
    ("POST", "/api/v1/ingest-ext/{schema}"): rights.write(source="path:schema"),
    ("GET", "/api/v1/records/{record_uuid}"): rights.session("own calls only (admin: all)"),
    ("GET", "/api/v1/requests/{request_id}"): rights.session("own calls only (admin: all)"),
    ("GET", "/api/v1/schemas"): rights.session(_FILTERED),
    ("GET", "/api/v1/status"): rights.session(_FILTERED),
    ("GET", "/api/v1/data/{ns}/{name}"): _DATA_READ,
    # Sync and workflows.
    ("POST", "/api/v1/sync"): rights.admin("every schema"),
    ("POST", "/api/v1/sync/{schema}"): rights.write(source="path:schema"),
    ("GET", "/api/v1/workflows"): Rule(Access.SESSION, (), "query:schema", _FILTERED + "; ?schema= needs read"),
    ("GET", "/api/v1/workflows/{run_id}"): rights.read(source="run"),
    # Workflow scripts: each answers only the workflows the caller may see (ferry.workflows.access).
    ("GET", "/api/v1/workflow"): rights.session(_WORKFLOWS),
    ("GET", "/api/v1/workflow/{name}"): rights.session(_WORKFLOWS),
    ("POST", "/api/v1/workflow/{name}/start"): rights.session(_WORKFLOWS),
    ("POST", "/api/v1/workflow/{name}/stop"): rights.session(_WORKFLOWS),
    ("GET", "/api/v1/workflow/{name}/runs/{run_id}"): rights.session(_WORKFLOWS),
    # Subscriptions.
    ("GET", "/api/v1/services"): rights.session("service definitions, no subscriber data"),
    ("POST", "/api/v1/services"): rights.admin(),
    ("POST", "/api/v1/services/{name}/disable"): rights.admin(),
    ("POST", "/api/v1/services/{name}/subscribe"): rights.write(SUBSCRIPTION),
    ("POST", "/api/v1/services/{name}/unsubscribe"): rights.write(SUBSCRIPTION),
    ("POST", "/api/v1/optout"): rights.write(SUBSCRIPTION),
    ("POST", "/api/v1/services/{name}/links"): rights.write(SUBSCRIPTION, note="mints unsubscribe links, * too"),
    ("GET", "/api/v1/services/{name}/subscribers"): rights.read(SUBSCRIPTION, RECIPIENT),
    ("GET", "/api/v1/recipients/history"): rights.read(SUBSCRIPTION_HISTORY, RECIPIENT),
    ("GET", "/l/unsubscribe"): rights.public(_LINK),
    ("POST", "/l/unsubscribe"): rights.public(_LINK),
    # Unknown /api/v1 paths answer 404 in the API's format.
    ("GET", "/api/v1/{path:path}"): rights.public("404"),
    ("POST", "/api/v1/{path:path}"): rights.public("404"),
    ("PUT", "/api/v1/{path:path}"): rights.public("404"),
    ("PATCH", "/api/v1/{path:path}"): rights.public("404"),
    ("DELETE", "/api/v1/{path:path}"): rights.public("404"),
    # Console.
    ("GET", "/console/login"): rights.public("login form"),
    ("GET", "/console/favicon.svg"): rights.public("the console's icon"),
    ("POST", "/console/login"): rights.public("throttled per login and address"),
    ("POST", "/console/logout"): rights.session(),
    ("GET", "/console"): rights.session(_FILTERED),
    ("GET", "/console/"): rights.session(_FILTERED),
    ("GET", "/console/runs"): Rule(Access.SESSION, (), "query:schema", _FILTERED + "; ?schema= needs read"),
    ("GET", "/console/runs/{run_id}"): rights.read(source="run"),
    ("GET", "/console/rows"): Rule(Access.SESSION, (), "query:schema", "?schema= needs read (default: the first)"),
    ("GET", "/console/lookup"): rights.read(source="record"),
    ("GET", "/console/schemas"): rights.session(_FILTERED),
    ("POST", "/console/sync"): rights.write(source="body"),
    ("POST", "/console/rows/requeue"): rights.admin(),
    ("POST", "/console/rows/discard"): rights.admin(),
    ("GET", "/console/workflows"): rights.session(_WORKFLOWS),
    ("POST", "/console/workflows/run"): rights.session(_WORKFLOWS + "; the form's CSRF token"),
    ("GET", "/console/workflows/{name}"): rights.session(_WORKFLOWS),
    ("GET", "/console/workflows/{name}/runs/{run_id}"): rights.session(_WORKFLOWS),
}

SOAP_RULES: dict[str, Rule] = {
    "Logon": rights.public("throttled per login and address"),
    "Logoff": rights.session(),
    "GetServerTime": rights.session(),
    "GetOption": rights.session(),
    "GetUserInfo": rights.session(),
    "GetEntityIfMoreRecent": rights.session("schema descriptions, no data"),
    "Ingest": rights.write(source="body"),
    "IngestExt": rights.write(source="body"),
    "Write": rights.write(source="body"),
    "WriteCollection": rights.write(source="body"),
    "ExecuteQuery": rights.read(source="body"),
    "SelectAll": rights.read(source="body"),
    "BuildQuery": rights.admin("the warehouse statement of a query"),
    "BuildQueryEx": rights.admin("the warehouse statement of a query"),
    "Analyze": rights.read(source="body"),
    # Campaign methods ferry describes but does not serve: any session, answered FRY-400030.
    **{name: rights.session("not served: FRY-400030") for name in (*not_served.SESSION_METHODS,
                                                                   *not_served.PERSIST_METHODS,
                                                                   *not_served.WORKFLOW_METHODS)},
    "StartReplicateStagingData": rights.write(source="body"),
    "Subscribe": rights.write(SUBSCRIPTION),
    "Start": rights.session(_WORKFLOWS),
    "StartWithParameters": rights.session(_WORKFLOWS),
    "Stop": rights.session(_WORKFLOWS),
    "Unsubscribe": rights.write(SUBSCRIPTION),
}


def http_rule(method: str, path: str) -> Rule | None:
    """The rule of a route (HEAD is GET's)."""
    return HTTP_RULES.get(("GET" if method == "HEAD" else method, path))


def no_rule(what: str) -> AuthError:
    """The refusal of a route missing from the map (fail closed)."""
    return AuthError(errors.NO_RIGHTS_RULE, f"{what} has no rights rule in ferry.server.door.route_rights; refused",
                     http_status=403)


def _named_schema(rule: Rule, path_params: Mapping[str, Any], query: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(known here, schema) for a rule whose schema is in the path or the query."""
    source = rule.source or ""
    if source == "path:schema":
        return True, str(path_params.get("schema", ""))
    if source == "path:ns/name":
        return True, f"{path_params.get('ns', '')}:{path_params.get('name', '')}"
    if source == "query:schema":
        value = query.get("schema")
        return True, str(value) if value else None
    return False, None


def enforce(operator: Operator, rule: Rule | None, what: str, path_params: Mapping[str, Any] | None = None,
            query: Mapping[str, Any] | None = None, *, admin_code: Code | None = None) -> None:
    """Check `rule` for `operator` as far as the route tells (see the module docstring); AuthError 403.

    `admin_code`: the code of a refused admin rule (the console keeps its FRY-900002)."""
    if rule is None:
        raise no_rule(what)
    code = errors.QUERY_FORBIDDEN if rule is _DATA_READ else None
    if rule.access is Access.ADMIN and admin_code is not None:
        code = admin_code
    if rule.access in (Access.PUBLIC, Access.SCRAPE, Access.SESSION, Access.ADMIN) or rule.schemas:
        rights.require_rule(operator, rule, code=code, what=what)
        if rule.access is not Access.SESSION:
            return
    known, schema = _named_schema(rule, path_params or {}, query or {})
    if not known:
        return  # the handler checks once it knows the schema (body, run, record)
    if schema is None:
        if rule.access is Access.SESSION:
            return  # no ?schema=: the handler filters the answer
        raise rights.refusal(operator, rule.access, None, code, what)
    access = Access.READ if rule.access is Access.SESSION else rule.access
    rights.require(operator, access, schema, code=code, what=what)


def enforce_request(request: Any, operator: Operator, *, admin_code: Code | None = None) -> None:
    """`enforce` for a FastAPI request, from the route it matched (`scope["route"]`)."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    enforce(operator, http_rule(request.method, path), f"{request.method} {path}", request.path_params,
            request.query_params, admin_code=admin_code)


def soap_rule(name: str) -> Rule | None:
    """The rule of a SOAP method, by name (the same for every URN serving it)."""
    return SOAP_RULES.get(name)


def http_routes(app: Any) -> Iterator[tuple[str, str, bool]]:
    """Every (method, path, in OpenAPI) the app serves, HEAD left out (it is GET's)."""

    def walk(routes: list[Any]) -> Iterator[Any]:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if callable(contexts):  # FastAPI's included router
                yield from contexts()
            else:
                yield route

    for route in walk(list(app.routes)):
        for method in sorted(getattr(route, "methods", None) or ()):
            if method != "HEAD":
                yield method, str(route.path), bool(getattr(route, "include_in_schema", True))
