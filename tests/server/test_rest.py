"""The REST API through httpx's ASGITransport, against a real PostgreSQL staging database."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from ferry.config import Settings
from ferry.schema.loader import load_schema_file, parse_schema
from ferry.server.api.rest_models import IngestReply
from ferry.server.app import create_app, serving_app
from ferry.server.process.runtime import Runtime
from ferry.staging import StagingDatabase
from outcome_fakes import record_outcome

pytestmark = pytest.mark.anyio


@dataclass
class Api:
    client: httpx.AsyncClient
    runtime: Runtime
    app: FastAPI

    async def logon(self, login: str, password: str = "pw") -> dict[str, str]:
        reply = await self.client.post("/api/v1/logon", json={"login": login, "password": password})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        return {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}


@pytest.fixture
def limits() -> dict[str, Any]:
    return {}


@pytest.fixture(params=["fastapi", "fast-path"])
async def api(staging_db: StagingDatabase, settings: Settings, limits: dict[str, Any],
              request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """The API through the FastAPI app alone, and through what `ferry serve` runs (the ingest fast path first)."""
    sample = Path(str(resources.files("ferry.schema") / "examples" / "dem_sampleTable.xml"))
    staging_db.catalog.apply(load_schema_file(sample))
    staging_db.reload_schemas()
    runtime = Runtime(dataclasses.replace(settings, **limits), db=staging_db)
    runtime.auth.add_operator("ann", "pw", schemas=["nms:recipient"])
    runtime.auth.add_operator("bob", "pw", schemas=["nms:recipient", "dem:sampleTableStg"])
    runtime.auth.add_operator("root", "pw", admin=True)
    app = create_app(runtime)
    served = serving_app(app) if request.param == "fast-path" else app
    await runtime.start()  # ASGITransport does not run the lifespan
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="http://ferry") as client:
            yield Api(client, runtime, app)
    finally:
        await runtime.stop()


def staged_rows(db: StagingDatabase) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.url) as conn:
        return conn.execute('SELECT _op, email, "firstName" FROM ferry_stg.nms_recipient ORDER BY _seq').fetchall()


def request_count(db: StagingDatabase) -> int:
    with psycopg.connect(db.url) as conn:
        row = conn.execute("SELECT count(*) FROM ferry.requests").fetchone()
    assert row is not None
    return int(row[0])


def assert_error(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    error: dict[str, Any] = reply.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


# -- sessions -------------------------------------------------------------------------------------------------------

async def test_logon_answers_tokens_and_logoff_revokes_them(api: Api) -> None:
    reply = await api.client.post("/api/v1/logon", json={"login": "ann", "password": "pw"})
    assert reply.status_code == 200
    body = reply.json()
    assert body["sessionToken"].startswith("___") and body["securityToken"].startswith("@")
    assert body["expiresAt"] and body["operator"] == {"login": "ann", "admin": False, "schemas": ["nms:recipient"]}
    headers = {"Authorization": f"Bearer {body['sessionToken']}", "X-Security-Token": body["securityToken"]}
    assert (await api.client.get("/api/v1/status", headers=headers)).status_code == 200
    assert (await api.client.post("/api/v1/logoff", headers=headers)).json() == {"loggedOff": True}
    error = assert_error(await api.client.get("/api/v1/status", headers=headers), 401, "FRY-600002")
    assert error["campaignCode"] == "XSV-350008"


@pytest.mark.parametrize("credentials", [{"login": "ann", "password": "bad"}, {"login": "nobody", "password": "pw"}])
async def test_bad_logon_is_401_with_the_campaign_code(api: Api, credentials: dict[str, str]) -> None:
    error = assert_error(await api.client.post("/api/v1/logon", json=credentials), 401, "FRY-600001")
    assert error["campaignCode"] == "XSV-350022"


async def test_malformed_logon_body_is_400(api: Api) -> None:
    assert_error(await api.client.post("/api/v1/logon", json={"login": "ann"}), 400, "FRY-600010")
    assert_error(await api.client.post("/api/v1/logon", content=b"{nope", headers={"Content-Type": "application/json"}),
                 400, "FRY-600010")


async def test_campaign_headers_and_cookie_carry_the_session_token(api: Api) -> None:
    body = (await api.client.post("/api/v1/logon", json={"login": "ann", "password": "pw"})).json()
    campaign = {"X-Session-Token": body["sessionToken"], "X-Security-Token": body["securityToken"]}
    assert (await api.client.get("/api/v1/schemas", headers=campaign)).status_code == 200
    cookie = {"Cookie": f"__sessiontoken={body['sessionToken']}", "X-Security-Token": body["securityToken"]}
    assert (await api.client.get("/api/v1/schemas", headers=cookie)).status_code == 200


async def test_missing_forged_or_foreign_tokens_are_401(api: Api) -> None:
    ann = await api.logon("ann")
    bob = await api.logon("bob")
    cases = [
        {},
        {"Authorization": ann["Authorization"]},  # no security token
        {"X-Security-Token": ann["X-Security-Token"]},  # no session token
        {"Authorization": "Bearer ___forged", "X-Security-Token": ann["X-Security-Token"]},
        {"Authorization": ann["Authorization"], "X-Security-Token": bob["X-Security-Token"]},  # another's pair
    ]
    for headers in cases:
        reply = await api.client.post("/api/v1/ingest/nms:recipient", json={"email": "x@x"}, headers=headers)
        assert_error(reply, 401, "FRY-600002")
        assert reply.headers["WWW-Authenticate"] == "Bearer"
    assert staged_rows(api.runtime.db) == []


# -- ingest ---------------------------------------------------------------------------------------------------------

async def test_ingest_one_json_object(api: Api) -> None:
    headers = await api.logon("ann")
    reply = await api.client.post("/api/v1/ingest/nms:recipient", json={"email": "a@x", "firstName": "Ann"},
                                  headers=headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert IngestReply.model_validate(body).model_dump(by_alias=True) == body  # the documented shape
    assert body["schema"] == "nms:recipient" and body["method"] == "Ingest" and body["count"] == 1
    record = body["records"][0]
    assert record["position"] == 1 and record["state"] == "staged" and record["operation"] == "insert"
    assert record["id"] == record["uuid"] == body["result"]
    assert staged_rows(api.runtime.db) == [("insert", "a@x", "Ann")]


async def test_ingest_a_json_array_with_key_returns_an_empty_result(api: Api) -> None:
    headers = await api.logon("ann")
    records = [{"_key": "@email", "email": f"{i}@x"} for i in range(3)]
    reply = await api.client.post("/api/v1/ingest/nms:recipientStg", json=records, headers=headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["result"] == "" and [r["position"] for r in body["records"]] == [1, 2, 3]
    assert len({r["uuid"] for r in body["records"]}) == 3
    assert [row[1] for row in staged_rows(api.runtime.db)] == ["0@x", "1@x", "2@x"]


async def test_ingest_ndjson(api: Api) -> None:
    headers = {**await api.logon("ann"), "Content-Type": "application/x-ndjson"}
    lines = "\n".join(json.dumps({"email": f"{i}@x", "xtkschema": "nms:recipient"}) for i in range(4)) + "\n\n"
    reply = await api.client.post("/api/v1/ingest/nms:recipient", content=lines, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["count"] == 4
    assert len(reply.json()["result"].split(",")) == 4
    assert len(staged_rows(api.runtime.db)) == 4


async def test_ingest_ext_update_and_delete(api: Api) -> None:
    headers = await api.logon("ann")
    records = [
        {"_key": "@email", "_operation": "update", "email": "a@x", "firstName": "Anna"},
        {"_key": "@email", "_operation": "delete", "email": "b@x"},
        {"_key": "@email", "email": "c@x", "firstName": "Cy"},
    ]
    reply = await api.client.post("/api/v1/ingest-ext/nms:recipient", json=records, headers=headers)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["method"] == "IngestExt" and body["result"] == ""
    assert [r["operation"] for r in body["records"]] == ["update", "delete", "insertOrUpdate"]
    assert all(r["id"] is None for r in body["records"])
    assert staged_rows(api.runtime.db) == [("update", "a@x", "Anna"), ("delete", "b@x", None),
                                           ("insertOrUpdate", "c@x", "Cy")]


async def test_a_bad_500th_record_of_1000_refuses_the_whole_call(api: Api) -> None:
    headers = await api.logon("ann")
    records: list[dict[str, Any]] = [{"email": f"{i}@x"} for i in range(1000)]
    records[499]["gender"] = "not a number"
    reply = await api.client.post("/api/v1/ingest/nms:recipient", json=records, headers=headers)
    error = assert_error(reply, 422, "FRY-100006")
    assert error["position"] == 500 and error["attribute"] == "gender"
    assert staged_rows(api.runtime.db) == [] and request_count(api.runtime.db) == 0


async def test_refusals_of_documents(api: Api) -> None:
    headers = await api.logon("ann")
    post = api.client.post
    assert_error(await post("/api/v1/ingest/nms:recipient", content=b"{not json",
                            headers={**headers, "Content-Type": "application/json"}), 400, "FRY-100001")
    assert_error(await post("/api/v1/ingest/nms:recipient", json=[], headers=headers), 400, "FRY-100012")
    assert_error(await post("/api/v1/ingest/nms:recipient", json=42, headers=headers), 400, "FRY-100001")
    assert_error(await post("/api/v1/ingest/nms:recipient", content=b"email=a",
                            headers={**headers, "Content-Type": "text/plain"}), 415, "FRY-600009")
    error = assert_error(await post("/api/v1/ingest/nms:recipient", json={"email": "a@x", "pwned\"; DROP": "1"},
                                    headers=headers), 422, "FRY-100005")
    assert error["position"] == 1
    mixed = [{"email": "a@x"}, {"email": "b@x", "xtkschema": "dem:sampleTable"}]
    error = assert_error(await post("/api/v1/ingest/nms:recipient", json=mixed, headers=headers), 422, "FRY-100014")
    assert error["position"] == 2
    # The staging id of the same schema is not "another schema".
    same = [{"email": "a@x", "xtkschema": "nms:recipientStg"}]
    assert (await post("/api/v1/ingest/nms:recipient", json=same, headers=headers)).status_code == 200
    assert request_count(api.runtime.db) == 1


async def test_unknown_schema_is_404(api: Api) -> None:
    headers = await api.logon("root")
    assert_error(await api.client.post("/api/v1/ingest/nms:nothing", json={"a": 1}, headers=headers), 404,
                 "FRY-100003")
    assert_error(await api.client.post("/api/v1/ingest-ext/nothing", json={"a": 1}, headers=headers), 404,
                 "FRY-100003")


async def test_an_operator_with_a_right_on_one_schema_is_refused_on_another(api: Api) -> None:
    bob = await api.logon("bob")
    ann = await api.logon("ann")
    ok = await api.client.post("/api/v1/ingest/dem:sampleTable", json={"testcol1": "v"}, headers=bob)
    assert ok.status_code == 200, ok.text
    assert_error(await api.client.post("/api/v1/ingest/dem:sampleTable", json={"testcol1": "v"}, headers=ann), 403,
                 "FRY-600003")
    assert_error(await api.client.post("/api/v1/ingest-ext/dem:sampleTableStg", json={"testcol1": "v", "id": "x"},
                                       headers=ann), 403, "FRY-600003")
    root = await api.logon("root")
    assert (await api.client.post("/api/v1/ingest/dem:sampleTable", json={"testcol1": "w"},
                                  headers=root)).status_code == 200
    with psycopg.connect(api.runtime.db.url) as conn:
        count = conn.execute("SELECT count(*) FROM ferry_stg.dem_sampletable").fetchone()
    assert count == (2,)


@pytest.mark.parametrize("limits", [{"rate_limit": 1.0}])
async def test_past_the_rate_limit_calls_get_429_with_retry_after(api: Api) -> None:
    headers = await api.logon("ann")
    first = await api.client.post("/api/v1/ingest/nms:recipient", json={"email": "a@x"}, headers=headers)
    assert first.status_code == 200
    second = await api.client.post("/api/v1/ingest/nms:recipient", json={"email": "b@x"}, headers=headers)
    assert_error(second, 429, "FRY-600004")
    assert int(second.headers["Retry-After"]) >= 1
    assert [row[1] for row in staged_rows(api.runtime.db)] == ["a@x"]


@pytest.mark.parametrize("limits", [{"max_body_bytes": 2000, "max_records_per_call": 10}])
async def test_bodies_and_calls_past_the_limits_get_413(api: Api) -> None:
    headers = await api.logon("ann")
    big = [{"email": f"{i}@example.com", "firstName": "x" * 50} for i in range(40)]
    assert_error(await api.client.post("/api/v1/ingest/nms:recipient", json=big, headers=headers), 413, "FRY-600008")
    many = [{"email": f"{i}@x"} for i in range(11)]
    assert_error(await api.client.post("/api/v1/ingest/nms:recipient", json=many, headers=headers), 413, "FRY-100015")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit applies while reading
        yield b"[" + b'{"email": "a@x"},' * 200
        yield b'{"email": "b@x"}]'

    streamed = await api.client.post("/api/v1/ingest/nms:recipient", content=chunks(), headers=headers)
    assert_error(streamed, 413, "FRY-600008")
    assert staged_rows(api.runtime.db) == []


# -- state of what was sent -----------------------------------------------------------------------------------------

async def test_records_and_requests_report_staged_synced_skipped_failed(api: Api) -> None:
    headers = await api.logon("ann")
    records = [{"email": f"{i}@x"} for i in range(4)]
    body = (await api.client.post("/api/v1/ingest/nms:recipient", json=records, headers=headers)).json()
    uuids = [r["uuid"] for r in body["records"]]
    # States are derived from the sync's record: rows 1-3 applied (synced, skipped, failed), row 4 still staged.
    schema = api.runtime.db.registry.get("nms:recipient")
    assert schema is not None
    record_outcome(api.runtime.db.url, schema, uuids[1], "skipped", "key exists")
    record_outcome(api.runtime.db.url, schema, uuids[2], "failed", "value rejected")
    synced = (await api.client.get(f"/api/v1/records/{uuids[0]}", headers=headers)).json()
    assert synced["state"] == "synced" and synced["doneAt"] and synced["position"] == 1
    assert synced["requestId"] == body["requestId"]
    assert synced["schema"] == "nms:recipient" and synced["values"]["email"] == "0@x"
    skipped = (await api.client.get(f"/api/v1/records/{uuids[1]}", headers=headers)).json()
    assert (skipped["state"], skipped["reason"], skipped["error"]) == ("skipped", "key exists", None)
    assert skipped["position"] == 2
    failed = (await api.client.get(f"/api/v1/records/{uuids[2]}", headers=headers)).json()
    assert (failed["state"], failed["reason"], failed["error"]) == ("failed", None, "value rejected")
    staged = (await api.client.get(f"/api/v1/records/{uuids[3]}", headers=headers)).json()
    assert staged["state"] == "staged" and staged["position"] == 4 and staged["doneAt"] is None

    request = (await api.client.get(f"/api/v1/requests/{body['requestId']}", headers=headers)).json()
    assert request["operator"] == "ann" and request["origin"] == "rest" and request["recordCount"] == 4
    assert [r["state"] for r in request["records"]] == ["synced", "skipped", "failed", "staged"]
    assert [r["position"] for r in request["records"]] == [1, 2, 3, 4]
    assert request["counts"] == {"staged": 1, "synced": 1, "skipped": 1, "failed": 1}


async def test_a_calls_records_come_in_pages(api: Api) -> None:
    headers = await api.logon("ann")
    body = (await api.client.post("/api/v1/ingest/nms:recipient", json=[{"email": f"{i}@x"} for i in range(4)],
                                  headers=headers)).json()
    url = f"/api/v1/requests/{body['requestId']}"
    first = (await api.client.get(url, params={"limit": 3}, headers=headers)).json()
    assert [r["values"]["email"] for r in first["records"]] == ["0@x", "1@x", "2@x"]
    assert (first["recordCount"], first["offset"], first["nextOffset"]) == (4, 0, 3)
    last = (await api.client.get(url, params={"limit": 3, "offset": first["nextOffset"]}, headers=headers)).json()
    assert [(r["values"]["email"], r["position"]) for r in last["records"]] == [("3@x", 4)]
    assert last["nextOffset"] is None and last["counts"] == {"staged": 1}
    assert (await api.client.get(url, params={"limit": 10_001}, headers=headers)).status_code == 400
    whole = (await api.client.get(url, headers=headers)).json()  # the default page holds up to 1000
    assert len(whole["records"]) == 4 and whole["nextOffset"] is None


async def test_operators_see_only_their_own_calls_unless_admin(api: Api) -> None:
    ann = await api.logon("ann")
    body = (await api.client.post("/api/v1/ingest/nms:recipient", json={"email": "a@x"}, headers=ann)).json()
    record_url, request_url = f"/api/v1/records/{body['records'][0]['uuid']}", f"/api/v1/requests/{body['requestId']}"
    bob = await api.logon("bob")
    assert_error(await api.client.get(record_url, headers=bob), 404, "FRY-600011")
    assert_error(await api.client.get(request_url, headers=bob), 404, "FRY-600011")
    root = await api.logon("root")
    assert (await api.client.get(record_url, headers=root)).status_code == 200
    assert (await api.client.get(request_url, headers=root)).status_code == 200


async def test_unknown_records_and_requests_are_404(api: Api) -> None:
    headers = await api.logon("ann")
    for url in ("/api/v1/records/6f1c2a0e-0000-4000-8000-000000000000", "/api/v1/records/not-a-uuid",
                "/api/v1/requests/6f1c2a0e-0000-4000-8000-000000000000", "/api/v1/requests/1%27%20OR%201=1"):
        assert_error(await api.client.get(url, headers=headers), 404, "FRY-600011")


async def test_schemas_and_status(api: Api) -> None:
    headers = await api.logon("ann")
    await api.client.post("/api/v1/ingest/nms:recipient", json=[{"email": "a@x"}, {"email": "b@x"}], headers=headers)
    schemas = {s["id"]: s for s in (await api.client.get("/api/v1/schemas", headers=headers)).json()}
    recipient = schemas["nms:recipient"]
    assert recipient["stagingId"] == "nms:recipientStg"
    names = [a["name"] for a in recipient["attributes"]]
    assert names[0] == "id" and "email" in names
    assert {"name": "email", "fields": ["email"], "internal": False} in recipient["keys"]
    # ann holds nms:recipient only: the schemas and counts of others are not hers to see (issue 15).
    assert "dem:sampleTable" not in schemas
    status = {s["schema"]: s for s in (await api.client.get("/api/v1/status", headers=headers)).json()["schemas"]}
    assert status["nms:recipient"]["counts"]["staged"] == 2
    assert status["nms:recipient"]["oldestUnsynced"] is not None and status["nms:recipient"]["lagSeconds"] >= 0
    assert "dem:sampleTable" not in status
    root = await api.logon("root")
    assert "dem:sampleTable" in {s["id"] for s in (await api.client.get("/api/v1/schemas", headers=root)).json()}
    status = {s["schema"]: s for s in (await api.client.get("/api/v1/status", headers=root)).json()["schemas"]}
    assert status["dem:sampleTable"]["counts"]["staged"] == 0


async def test_openapi_describes_every_route_and_docs_are_served(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in ("/api/v1/logon", "/api/v1/logoff", "/api/v1/ingest/{schema}", "/api/v1/ingest-ext/{schema}",
                 "/api/v1/records/{record_uuid}", "/api/v1/requests/{request_id}", "/api/v1/schemas",
                 "/api/v1/status"):
        assert path in paths, path
    ingest = paths["/api/v1/ingest/{schema}"]["post"]
    assert set(ingest["requestBody"]["content"]) == {"application/json", "application/x-ndjson"}
    assert {"200", "401", "403", "404", "413", "422", "429"} <= set(ingest["responses"])
    assert "IngestReply" in spec["components"]["schemas"] and "ErrorReply" in spec["components"]["schemas"]
    paging = {p["name"]: p for p in paths["/api/v1/requests/{request_id}"]["get"]["parameters"]}
    assert paging["limit"]["schema"]["maximum"] == 10_000 and "page" in paging["limit"]["description"]
    assert "nextOffset" in paging["offset"]["description"]
    assert {"BearerSession", "SessionToken", "SecurityToken", "SessionCookie"} == {
        name for item in ingest["security"] for name in item
    }
    assert spec["components"]["securitySchemes"]["SecurityToken"] == {
        "type": "apiKey", "in": "header", "name": "X-Security-Token",
        "description": spec["components"]["securitySchemes"]["SecurityToken"]["description"]}
    assert (await api.client.get("/docs")).status_code == 200


async def test_unknown_api_routes_answer_in_the_error_format(api: Api) -> None:
    assert_error(await api.client.get("/api/v1/nothing/here"), 404, "FRY-300003")
    assert_error(await api.client.delete("/api/v1/records"), 404, "FRY-300003")


async def test_a_schema_applied_by_another_process_is_found_without_restart(api: Api) -> None:
    late = parse_schema('<srcSchema namespace="cus" name="late"><element name="late" autoStg="true">'
                        '<attribute name="code" type="string" length="10"/></element></srcSchema>')
    api.runtime.db.catalog.apply(late)  # this process's registry does not know it yet
    api.runtime.schema_refresh_seconds = 0.0
    headers = await api.logon("root")
    reply = await api.client.post("/api/v1/ingest/cus:late", json={"code": "A1"}, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["schema"] == "cus:late"


async def test_a_bad_ndjson_line_refuses_the_call_with_its_position(api: Api) -> None:
    headers = {**await api.logon("ann"), "Content-Type": "application/x-ndjson"}
    lines = b'{"email": "a@x"}\n\n{"email": "b@x"}\n{"email": \n{"email": "d@x"}\n'
    error = assert_error(await api.client.post("/api/v1/ingest/nms:recipient", content=lines, headers=headers), 400,
                         "FRY-100001")
    assert error["position"] == 3
    assert staged_rows(api.runtime.db) == []


async def test_ingest_ext_by_id_without_key_and_refused_without_any_key(api: Api) -> None:
    headers = await api.logon("ann")
    inserted = (await api.client.post("/api/v1/ingest/nms:recipient", json={"email": "a@x"}, headers=headers)).json()
    record_id = inserted["records"][0]["id"]
    update = {"id": record_id, "_operation": "update", "firstName": "Ann"}
    reply = await api.client.post("/api/v1/ingest-ext/nms:recipient", json=update, headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.json()["records"][0]["operation"] == "update"
    assert_error(await api.client.post("/api/v1/ingest-ext/nms:recipient", json={"firstName": "x"}, headers=headers),
                 422, "FRY-100011")


async def test_a_disabled_operator_cannot_log_on_and_loses_its_session(api: Api) -> None:
    headers = await api.logon("ann")
    api.runtime.auth.disable("ann")
    assert_error(await api.client.get("/api/v1/status", headers=headers), 401, "FRY-600002")
    assert_error(await api.client.post("/api/v1/logon", json={"login": "ann", "password": "pw"}), 401, "FRY-600001")
