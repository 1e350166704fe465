"""Every route, with a no-rights operator, a one-schema operator (`ops1`: dem:sampleTable) and an admin.

The table below lists each HTTP route (from the app, OpenAPI or not) and each SOAP method with the outcome expected
for (nobody, ops1, admin): `ok` (served: any answer but a refusal) or `no` (refused: 401/403, a rights fault, or the
console's login redirect). The coverage tests fail when a route or SOAP method has no row here, or no rule in
`ferry.server.door.route_rights`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ferry.server.door import route_rights

pytestmark = pytest.mark.anyio

Site = Any  # tests/security/conftest.py's Site (conftest modules are not importable under importlib mode)
Tokens = Any
PASSWORD = "pw-Secret-1"  # as in conftest.py
OPERATORS = ("nobody", "ops1", "admin")

OK, NO = "ok", "no"
ALL_OK = (OK, OK, OK)
ADMIN_ONLY = (NO, NO, OK)
SCHEMA = (NO, OK, OK)  # needs a right on dem:sampleTable
RIGHT_FAULTS = ("FRY-600003", "FRY-400013", "FRY-600017", "XSV-350008", "FRY-140001")
RECORD = '<sampleTable xtkschema="dem:sampleTable" testcol1="r" id="{id}"/>'


@dataclass(frozen=True)
class Case:
    """One call of a route; `fresh` takes a new session (the call ends it)."""

    route: tuple[str, str]  # (HTTP method, path template) or ("SOAP", method name)
    url: str = ""
    expect: tuple[str, str, str] = ALL_OK
    json: Any = None
    form: dict[str, str] | None = None
    soap: tuple[str, str] | None = None  # (urn, params)
    fresh: bool = False
    console: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def soap_case(urn: str, method: str, params: str, expect: tuple[str, str, str], fresh: bool = False) -> Case:
    return Case(("SOAP", method), expect=expect, soap=(urn, params), fresh=fresh)


def doc(xml: str, name: str = "domDoc") -> str:
    return f"<{name}>{xml}</{name}>"


U = str(uuid.UUID(int=7))
CASES: list[Case] = [
    # Documentation, health, metrics (loopback client, loopback listener: open), WSDL.
    Case(("GET", "/openapi.json"), "/openapi.json"),
    Case(("GET", "/docs"), "/docs"),
    Case(("GET", "/docs/openapi-3.0.json"), "/docs/openapi-3.0.json"),
    Case(("GET", "/redoc"), "/redoc"),
    Case(("GET", "/r/test"), "/r/test"),
    Case(("GET", "/healthz"), "/healthz"),
    Case(("GET", "/metrics"), "/metrics"),
    Case(("GET", "/nl/jsp/schemawsdl.jsp"), "/nl/jsp/schemawsdl.jsp?schema=xtk:session"),
    Case(("GET", "/nl/jsp/ping.jsp"), "/nl/jsp/ping.jsp",
         headers={"X-Session-Token": "{session}", "X-Security-Token": "{security}"}),
    Case(("GET", "/nl/jsp/mcPing.jsp"), "/nl/jsp/mcPing.jsp",
         headers={"X-Session-Token": "{session}", "X-Security-Token": "{security}"}),
    Case(("POST", "/nl/jsp/soaprouter.jsp"), soap=("xtk:session", ""), expect=ALL_OK),  # GetServerTime
    # Sessions.
    Case(("POST", "/api/v1/logon"), "/api/v1/logon", json={"login": "{login}", "password": PASSWORD}),
    Case(("POST", "/api/v1/logoff"), "/api/v1/logoff", fresh=True),
    # Ingest, state, reads.
    Case(("POST", "/api/v1/ingest/{schema}"), "/api/v1/ingest/dem:sampleTable", SCHEMA, json={"testcol1": "x"}),
    Case(("POST", "/api/v1/ingest-ext/{schema}"), "/api/v1/ingest-ext/dem:sampleTable", SCHEMA,
         json={"id": "k1", "_key": "@id", "testcol1": "y"}),
    Case(("POST", "/api/v1/ingest/{schema}"), "/api/v1/ingest/nms:recipient", ADMIN_ONLY,
         json={"email": "x@x.com"}),
    Case(("GET", "/api/v1/records/{record_uuid}"), f"/api/v1/records/{U}"),
    Case(("GET", "/api/v1/requests/{request_id}"), f"/api/v1/requests/{U}"),
    Case(("GET", "/api/v1/schemas"), "/api/v1/schemas"),
    Case(("GET", "/api/v1/status"), "/api/v1/status"),
    Case(("GET", "/api/v1/data/{ns}/{name}"), "/api/v1/data/dem/sampleTable", SCHEMA),
    Case(("GET", "/api/v1/data/{ns}/{name}"), "/api/v1/data/nms/recipient", ADMIN_ONLY),
    # Sync and workflows.
    Case(("POST", "/api/v1/sync"), "/api/v1/sync", ADMIN_ONLY),
    Case(("POST", "/api/v1/sync/{schema}"), "/api/v1/sync/dem:sampleTable", SCHEMA),
    Case(("GET", "/api/v1/workflows"), "/api/v1/workflows"),
    Case(("GET", "/api/v1/workflows"), "/api/v1/workflows?schema=dem:sampleTable", SCHEMA),
    Case(("GET", "/api/v1/workflows"), "/api/v1/workflows?schema=nms:recipient", ADMIN_ONLY),
    Case(("GET", "/api/v1/workflows/{run_id}"), f"/api/v1/workflows/{U}"),
    # Workflow scripts: seen and started by admins and the operators holding the rights of the one they run as
    # (opsflow runs as ops1; adminflow with every right); others get "no such workflow" (FRY-140001).
    Case(("GET", "/api/v1/workflow"), "/api/v1/workflow"),
    Case(("GET", "/api/v1/workflow/{name}"), "/api/v1/workflow/opsflow", SCHEMA),
    Case(("GET", "/api/v1/workflow/{name}"), "/api/v1/workflow/adminflow", ADMIN_ONLY),
    Case(("POST", "/api/v1/workflow/{name}/start"), "/api/v1/workflow/opsflow/start?wait=true", SCHEMA),
    Case(("POST", "/api/v1/workflow/{name}/start"), "/api/v1/workflow/adminflow/start?wait=true", ADMIN_ONLY),
    Case(("POST", "/api/v1/workflow/{name}/stop"), "/api/v1/workflow/opsflow/stop", SCHEMA),
    Case(("GET", "/api/v1/workflow/{name}/runs/{run_id}"), f"/api/v1/workflow/opsflow/runs/{U}", SCHEMA),
    # Subscriptions: the subscription right is the write right on nms:subscription.
    Case(("GET", "/api/v1/services"), "/api/v1/services"),
    Case(("POST", "/api/v1/services"), "/api/v1/services", ADMIN_ONLY, json={"name": "svc_{login}"}),
    Case(("POST", "/api/v1/services/{name}/disable"), "/api/v1/services/spare/disable", ADMIN_ONLY),
    Case(("POST", "/api/v1/services/{name}/subscribe"), "/api/v1/services/news/subscribe", ADMIN_ONLY,
         json={"recipient": {"email": "b@x.com"}}),
    Case(("POST", "/api/v1/services/{name}/unsubscribe"), "/api/v1/services/news/unsubscribe", ADMIN_ONLY,
         json={"recipient": {"email": "b@x.com"}}),
    Case(("POST", "/api/v1/optout"), "/api/v1/optout", ADMIN_ONLY, json={"recipient": {"email": "b@x.com"}}),
    Case(("POST", "/api/v1/services/{name}/links"), "/api/v1/services/news/links", ADMIN_ONLY,
         json={"email": "b@x.com"}),
    Case(("POST", "/api/v1/services/{name}/links"), "/api/v1/services/*/links", ADMIN_ONLY,
         json={"email": "b@x.com"}),
    Case(("GET", "/api/v1/services/{name}/subscribers"), "/api/v1/services/news/subscribers", ADMIN_ONLY),
    Case(("GET", "/api/v1/recipients/history"), "/api/v1/recipients/history?email=b@x.com", ADMIN_ONLY),
    Case(("GET", "/l/unsubscribe"), "/l/unsubscribe?t=forged"),
    Case(("POST", "/l/unsubscribe"), "/l/unsubscribe?t=forged"),
    # Unknown API paths: 404 in the API's format.
    *[Case((method, "/api/v1/{path:path}"), "/api/v1/no/such/route") for method in
      ("GET", "POST", "PUT", "PATCH", "DELETE")],
    # Console (cookie = the operator's session; forms carry its CSRF token).
    Case(("GET", "/console/login"), "/console/login"),
    Case(("GET", "/console/favicon.svg"), "/console/favicon.svg"),
    Case(("POST", "/console/login"), "/console/login", form={"login": "{login}", "password": PASSWORD,
                                                             "csrf": "x" * 24},
         headers={"Cookie": "ferry_console_login=" + "x" * 24}),
    Case(("POST", "/console/logout"), "/console/logout", form={}, console=True, fresh=True),
    Case(("GET", "/console"), "/console", console=True),
    Case(("GET", "/console/"), "/console/", console=True),
    Case(("GET", "/console/runs"), "/console/runs", console=True),
    Case(("GET", "/console/runs"), "/console/runs?schema=dem:sampleTable", SCHEMA, console=True),
    Case(("GET", "/console/runs/{run_id}"), f"/console/runs/{U}", console=True),
    Case(("GET", "/console/rows"), "/console/rows?schema=dem:sampleTable", SCHEMA, console=True),
    Case(("GET", "/console/lookup"), f"/console/lookup?q={U}", console=True),
    Case(("GET", "/console/schemas"), "/console/schemas", console=True),
    Case(("POST", "/console/sync"), "/console/sync", SCHEMA, form={"schema": "dem:sampleTable"}, console=True),
    Case(("POST", "/console/rows/requeue"), "/console/rows/requeue", ADMIN_ONLY,
         form={"schema": "dem:sampleTable", "uuid": U}, console=True),
    Case(("POST", "/console/rows/discard"), "/console/rows/discard", ADMIN_ONLY,
         form={"schema": "dem:sampleTable", "uuid": U}, console=True),
    Case(("GET", "/console/workflows"), "/console/workflows", console=True),
    Case(("GET", "/console/workflows/{name}"), "/console/workflows/opsflow", SCHEMA, console=True),
    Case(("GET", "/console/workflows/{name}"), "/console/workflows/adminflow", ADMIN_ONLY, console=True),
    Case(("GET", "/console/workflows/{name}/runs/{run_id}"), f"/console/workflows/opsflow/runs/{U}", SCHEMA,
         console=True),
    Case(("POST", "/console/workflows/run"), "/console/workflows/run", ADMIN_ONLY, form={"name": "adminflow"},
         console=True),
    # SOAP methods.
    soap_case("xtk:session", "Logon", f"<login>{{login}}</login><password>{PASSWORD}</password>", ALL_OK),
    soap_case("xtk:session", "Logoff", "", ALL_OK, fresh=True),
    soap_case("xtk:session", "GetServerTime", "", ALL_OK),
    soap_case("xtk:session", "GetOption", "<name>XtkDatabaseId</name>", ALL_OK),
    soap_case("xtk:session", "GetUserInfo", "", ALL_OK),
    soap_case("xtk:persist", "GetEntityIfMoreRecent", "<pk>xtk:schema|xtk:session</pk><md5/><mustExist>false"
              "</mustExist>", ALL_OK),
    soap_case("xtk:session", "Ingest", doc(RECORD.format(id="s1")), SCHEMA),
    soap_case("xtk:session", "IngestExt", doc('<sampleTable xtkschema="dem:sampleTable" _key="@id" id="s2" '
                                              'testcol1="u"/>'), SCHEMA),
    soap_case("xtk:session", "Ingest", doc('<recipient xtkschema="nms:recipient" email="z@x.com"/>'), ADMIN_ONLY),
    soap_case("xtk:session", "Write", doc(RECORD.format(id="w-{login}"), "doc"), SCHEMA),
    soap_case("xtk:session", "WriteCollection", doc(
        f'<sampleTable-collection xtkschema="dem:sampleTable">{RECORD.format(id="c-{login}")}'
        "</sampleTable-collection>", "doc"), SCHEMA),
    soap_case("xtk:queryDef", "ExecuteQuery", doc('<queryDef schema="dem:sampleTable" operation="select">'
                                                  '<select><node expr="@id"/></select></queryDef>', "document"),
              SCHEMA),
    soap_case("xtk:queryDef", "ExecuteQuery", doc('<queryDef schema="nms:recipient" operation="select">'
                                                  '<select><node expr="@email"/></select></queryDef>', "document"),
              ADMIN_ONLY),
    # Issue 25: queryDef's other methods, the staging views, options, and the Campaign methods refused FRY-400030.
    soap_case("xtk:queryDef", "SelectAll", doc('<queryDef schema="dem:sampleTable" operation="select"/>', "document")
              + "<duplicate>false</duplicate>", SCHEMA),
    soap_case("xtk:queryDef", "Analyze", doc('<queryDef schema="dem:sampleTable" operation="select"/>', "document"),
              SCHEMA),
    soap_case("xtk:queryDef", "BuildQuery", doc('<queryDef schema="dem:sampleTable" operation="select"/>',
                                                "document"), ADMIN_ONLY),
    soap_case("xtk:queryDef", "BuildQueryEx", doc('<queryDef schema="dem:sampleTable" operation="select"/>',
                                                  "document"), ADMIN_ONLY),
    soap_case("xtk:queryDef", "ExecuteQuery", doc('<queryDef schema="xtk:option" operation="select"/>', "document"),
              ADMIN_ONLY),
    soap_case("xtk:queryDef", "ExecuteQuery", doc('<queryDef schema="xtk:operator" operation="select"/>',
                                                  "document"), ALL_OK),
    soap_case("xtk:session", "Write", doc('<option xtkschema="xtk:option" name="Mine-{login}" stringValue="x"/>',
                                          "doc"), ADMIN_ONLY),
    # (an operator without rights reads its own xtk:operator record, and gets FRY-400030 like any other)
    *[soap_case("xtk:session", name, "", ALL_OK) for name in (
        "GetNewIds", "GetNewIdsEx", "GetModifiedEntities", "Encrypt", "EncryptPassword", "EncryptServerPassword",
        "HashPassword", "ReEncryptPassword")],
    *[soap_case("xtk:persist|xtk:operator", name, doc('<operator xtkschema="xtk:operator"/>', "document"),
                ALL_OK) for name in ("NewInstance", "Duplicate")],
    soap_case("nms:replicationStrategy", "StartReplicateStagingData", "<strSchema>dem:sampleTable</strSchema>",
              SCHEMA),
    soap_case("xtk:workflow", "Start", "<strWorkflowId>opsflow</strWorkflowId>", SCHEMA),
    soap_case("xtk:workflow", "StartWithParameters", "<strWorkflowId>adminflow</strWorkflowId>"
              '<elemParameters><variables k="v"/></elemParameters>', ADMIN_ONLY),
    soap_case("xtk:workflow", "Stop", "<strWorkflowId>opsflow</strWorkflowId>", SCHEMA),
    soap_case("xtk:workflow", "PostEvent", "<strWorkflowId>opsflow</strWorkflowId>", ALL_OK),
    soap_case("nms:subscription", "Subscribe", '<service>news</service><content><recipient email="b@x.com"/>'
              "</content><create>true</create>", ADMIN_ONLY),
    soap_case("nms:subscription", "Unsubscribe", '<service>news</service><content><recipient email="b@x.com"/>'
              "</content>", ADMIN_ONLY),
]


def _fill(value: Any, login: str, tokens: Tokens) -> Any:
    if isinstance(value, str):
        return value.replace("{login}", login).replace("{session}", tokens.session) \
            .replace("{security}", tokens.security)
    if isinstance(value, dict):
        return {k: _fill(v, login, tokens) for k, v in value.items()}
    return value


async def send(site: Site, case: Case, login: str) -> httpx.Response:
    tokens = await site.logon(login) if case.fresh else await site.tokens(login)
    headers = _fill(dict(case.headers), login, tokens)
    if case.soap is not None:
        urn, params = case.soap
        method = case.route[1] if case.route[0] == "SOAP" else "GetServerTime"
        return await site.soap(urn, method, _fill(params, login, tokens), tokens)
    if case.console:
        headers["Cookie"] = tokens.console_cookie
        form = {**(case.form or {}), "csrf": tokens.csrf} if case.form is not None else None
        return await site.client.request(case.route[0], case.url, data=form, headers=headers)
    if not case.url.startswith(("/api/v1/logon", "/console/login", "/l/", "/r/", "/healthz", "/metrics")):
        headers = {**tokens.headers, **headers}
    return await site.client.request(case.route[0], case.url, json=_fill(case.json, login, tokens),
                                     data=_fill(case.form, login, tokens), headers=headers)


def outcome(reply: httpx.Response) -> str:
    assert reply.status_code < 500, reply.text
    if reply.status_code in (401, 403):
        return NO
    if reply.status_code == 303 and reply.headers.get("location", "").endswith("/console/login"):
        # A logout's own answer is that redirect; elsewhere it means "no valid session".
        return OK if reply.request.url.path == "/console/logout" else NO
    if "Fault>" in reply.text and any(code in reply.text for code in RIGHT_FAULTS):
        return NO
    if reply.status_code == 404 and "FRY-140001" in reply.text:
        return NO  # a workflow the operator may not see is answered as unknown
    return OK


def _present(site: Site, case: Case) -> bool:
    if case.route[0] == "SOAP":
        return case.route[1] in site.app.state.soap.methods
    return case.route in {(m, p) for m, p, _ in route_rights.http_routes(site.app)}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.route[0]} {c.url or c.route[1]}")
async def test_route_rights(site: Site, case: Case) -> None:
    # A row for a route the app does not serve is stale: the table must describe this build exactly.
    assert _present(site, case), f"{case.route} is in the table but not served: remove its row"
    got = tuple([outcome(await send(site, case, login)) for login in OPERATORS])
    assert got == case.expect, f"{case.route} {case.url}: (nobody, ops1, admin) got {got}, want {case.expect}"


async def test_every_route_has_a_rule_and_a_row(site: Site) -> None:
    rows = {case.route for case in CASES}
    served = set(route_rights.http_routes(site.app))
    missing_rule = sorted((m, p) for m, p, _ in served if route_rights.http_rule(m, p) is None)
    missing_row = sorted((m, p) for m, p, _ in served if (m, p) not in rows)
    assert not missing_rule, f"routes without a rule in ferry.server.door.route_rights.HTTP_RULES: {missing_rule}"
    assert not missing_row, f"routes without a row in this test's CASES: {missing_row}"
    openapi = {(method.upper(), path) for path, ops in site.app.openapi()["paths"].items() for method in ops}
    assert openapi <= rows, f"OpenAPI operations without a row: {sorted(openapi - rows)}"
    soap_methods = set(site.app.state.soap.methods)
    assert soap_methods <= set(route_rights.SOAP_RULES), sorted(soap_methods - set(route_rights.SOAP_RULES))
    assert soap_methods <= {c.route[1] for c in CASES if c.route[0] == "SOAP"}


async def test_a_route_without_a_rule_is_refused(site: Site) -> None:
    from fastapi import APIRouter, Depends

    from ferry.server.api import rest_support as rest

    extra = APIRouter(prefix="/extra", route_class=rest.FerryRoute)
    caller = rest.caller_dependency(site.runtime)

    @extra.get("/thing")
    async def thing(operator: Any = Depends(caller)) -> dict[str, str]:  # noqa: B008 - FastAPI's style
        return {"who": str(operator.login)}

    site.app.include_router(extra)
    tokens = await site.tokens("admin")
    reply = await site.client.get("/extra/thing", headers=tokens.headers)
    assert reply.status_code == 403 and "FRY-600017" in reply.text


async def test_non_admin_sees_only_its_schemas(site: Site) -> None:
    ops1 = await site.tokens("ops1")
    schemas = {s["id"] for s in (await site.client.get("/api/v1/schemas", headers=ops1.headers)).json()}
    assert schemas == {"dem:sampleTable"}
    status = {s["schema"] for s in (await site.client.get("/api/v1/status", headers=ops1.headers)).json()["schemas"]}
    assert status == {"dem:sampleTable"}
    admin = await site.tokens("admin")
    everything = {s["id"] for s in (await site.client.get("/api/v1/schemas", headers=admin.headers)).json()}
    assert {"dem:sampleTable", "nms:recipient", "nms:subscription"} <= everything
    # Workflows: ops1's own schema by ?schema=, the others' runs hidden, a clear message when refused.
    await site.client.post("/api/v1/sync/dem:sampleTable?wait=true", headers=ops1.headers)
    await site.client.post("/api/v1/sync/nms:recipient?wait=true", headers=admin.headers)
    own = await site.client.get("/api/v1/workflows?schema=dem:sampleTable", headers=ops1.headers)
    assert own.status_code == 200 and own.json()["runs"], own.text
    listed = (await site.client.get("/api/v1/workflows", headers=ops1.headers)).json()["runs"]
    assert listed and {run["schema"] for run in listed} == {"dem:sampleTable"}
    other = await site.client.get("/api/v1/workflows?schema=nms:recipient", headers=ops1.headers)
    assert other.status_code == 403
    assert "read right on nms:recipient" in other.json()["error"]["message"]
    recipient_runs = (await site.client.get("/api/v1/workflows?schema=nms:recipient",
                                            headers=admin.headers)).json()["runs"]
    hidden = await site.client.get(f"/api/v1/workflows/{recipient_runs[0]['id']}", headers=ops1.headers)
    assert hidden.status_code == 404
    # The console's overview lists its schemas only.
    page = await site.client.get("/console", headers={"Cookie": ops1.console_cookie})
    assert 'data-schema="dem:sampleTable"' in page.text and 'data-schema="nms:recipient"' not in page.text


async def test_read_right_reads_but_does_not_write(site: Site) -> None:
    site.runtime.auth.add_operator("reader", PASSWORD, read_schemas=["dem:sampleTable", "nms:subscription",
                                                                    "nms:recipient", "nms:subHisto"])
    reader = await site.tokens("reader")
    assert (await site.client.get("/api/v1/data/dem/sampleTable", headers=reader.headers)).status_code == 200
    assert (await site.client.get("/api/v1/services/news/subscribers", headers=reader.headers)).status_code == 200
    assert (await site.client.get("/api/v1/recipients/history?email=a@x.com",
                                  headers=reader.headers)).status_code == 200
    before = site.counts()
    refused = await site.client.post("/api/v1/ingest/dem:sampleTable", json={"testcol1": "x"}, headers=reader.headers)
    assert refused.status_code == 403 and "write right on dem:sampleTable" in refused.json()["error"]["message"]
    link = await site.client.post("/api/v1/services/news/links", json={"email": "b@x.com"}, headers=reader.headers)
    assert link.status_code == 403
    assert site.counts() == before
