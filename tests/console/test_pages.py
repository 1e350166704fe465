"""Console pages over httpx: services with subscriber counts, lookups of calls, row lists, the overview."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ferry.subscriptions import services
from outcome_fakes import record_outcome

pytestmark = pytest.mark.anyio


def _cell(html: str, service: str, column: str) -> str:
    row = re.search(rf'<tr data-service="{re.escape(service)}">(.*?)</tr>', html, re.S)
    assert row is not None, html
    cell = re.search(rf'data-count="{column}">([^<]*)<', row.group(1))
    assert cell is not None
    return cell.group(1)


async def test_services_show_subscribers_and_staged_requests(console: Any) -> None:
    services.add(console.runtime.db.pool, "newsletter", label="The newsletter")
    csrf = await console.login("root")
    page = await console.client.get("/console/schemas")
    assert (_cell(page.text, "newsletter", "subscribers"), _cell(page.text, "newsletter", "pending")) == ("0", "0")

    logon = (await console.client.post("/api/v1/logon", json={"login": "root", "password": "pw"})).json()
    headers = {"Authorization": f"Bearer {logon['sessionToken']}", "X-Security-Token": logon["securityToken"]}
    reply = await console.client.post("/api/v1/services/newsletter/subscribe", headers=headers,
                                      json={"recipient": {"email": "sub@example.com"}, "create": True})
    assert reply.status_code == 202, reply.text
    page = await console.client.get("/console/schemas")
    assert _cell(page.text, "newsletter", "pending") == "1"

    for schema in ("nms:recipient", "nms:subscription"):
        done = await console.client.post("/console/sync", data={"csrf": csrf, "schema": schema})
        assert done.status_code == 303
    page = await console.client.get("/console/schemas")
    assert (_cell(page.text, "newsletter", "subscribers"), _cell(page.text, "newsletter", "pending")) == ("1", "0")


async def test_lookup_of_a_call_lists_its_rows_and_bad_input_is_explained(console: Any) -> None:
    rows = await console.ingest([{"email": "l1@x"}, {"email": "l2@x"}])
    await console.login("root")
    record = await console.client.get(f"/console/lookup?q={rows[1]}")
    request_id = re.search(r'href="/console/lookup\?q=([0-9a-f-]{36})"', record.text)
    assert request_id is not None
    call = await console.client.get(f"/console/lookup?q={request_id.group(1)}")
    assert 'id="call"' in call.text and rows[0] in call.text and rows[1] in call.text
    assert "is not a UUID" in (await console.client.get("/console/lookup?q=<script>")).text
    assert "&lt;script&gt;" in (await console.client.get("/console/lookup?q=<script>")).text
    missing = await console.client.get("/console/lookup?q=00000000-0000-0000-0000-000000000000")
    assert "No staged record and no call" in missing.text


async def test_a_viewer_without_a_right_on_the_schema_sees_no_row_values(console: Any) -> None:
    console.runtime.auth.add_operator("other", "pw", schemas=["dem:nothing"])
    (row,) = await console.ingest([{"email": "secret@x"}])
    console.fail_row(row)
    await console.login("other")
    assert (await console.client.get(f"/console/lookup?q={row}")).status_code == 403
    assert (await console.client.get("/console/rows?schema=nms:recipient")).status_code == 403
    overview = await console.client.get("/console")
    assert overview.status_code == 200 and "secret@x" not in overview.text
    assert "Sync now" not in overview.text


async def test_skipped_rows_are_listed_with_their_reason(console: Any) -> None:
    (row,) = await console.ingest([{"email": "k@x"}])
    schema = console.runtime.db.registry.get("nms:recipient")
    assert schema is not None
    record_outcome(console.runtime.db.url, schema, row, "skipped", "key exists")
    await console.login("root")
    page = await console.client.get("/console/rows?schema=nms:recipient&state=skipped")
    assert row in page.text and "key exists" in page.text
    assert 'data-action="requeue"' not in page.text  # only failed rows can be re-queued
