"""The smaller holes of issue 27, item 10: pings read `Authorization: Bearer`, and what an operator may not read it
does not learn from mcPing, GetEntityIfMoreRecent or the console."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.anyio


async def bearer_get(site: Any, path: str, login: str) -> Any:
    tokens = await site.tokens(login)
    return await site.client.get(path, headers=tokens.headers)  # Authorization: Bearer + X-Security-Token


async def test_pings_read_a_bearer_session(site: Any) -> None:
    for path in ("/nl/jsp/ping.jsp", "/nl/jsp/mcPing.jsp"):
        reply = await bearer_get(site, path, "admin")
        assert reply.status_code == 200 and reply.text.startswith(("OK", "Ok")), (path, reply.text)


async def test_mcping_counts_only_the_schemas_the_operator_may_read(site: Any) -> None:
    admin, ops1 = await site.tokens("admin"), await site.tokens("ops1")
    staged = await site.client.post("/api/v1/ingest/nms:recipient", headers=admin.headers,
                                    json=[{"email": "a@x.com"}, {"email": "b@x.com"}])
    assert staged.status_code == 200, staged.text
    mine = await site.client.post("/api/v1/ingest/dem:sampleTable", headers=ops1.headers, json={"testcol1": "x"})
    assert mine.status_code == 200, mine.text
    assert "\n1/" in (await bearer_get(site, "/nl/jsp/mcPing.jsp", "ops1")).text
    assert "\n3/" in (await bearer_get(site, "/nl/jsp/mcPing.jsp", "admin")).text


async def test_get_entity_shows_only_readable_schemas(site: Any) -> None:
    pk = "<pk xsi:type='xsd:string'>xtk:schema|nms:recipient</pk>"
    hidden = await site.soap("xtk:persist", "GetEntityIfMoreRecent", pk, await site.tokens("ops1"))
    assert hidden.status_code == 200 and "email" not in hidden.text and "pdomDoc" in hidden.text, hidden.text
    shown = await site.soap("xtk:persist", "GetEntityIfMoreRecent", pk, await site.tokens("admin"))
    assert 'name="email"' in shown.text
    own = "<pk xsi:type='xsd:string'>xtk:schema|dem:sampleTable</pk>"
    assert "testcol1" in (await site.soap("xtk:persist", "GetEntityIfMoreRecent", own, await site.tokens("ops1"))).text


async def test_the_console_says_why_services_are_not_shown(site: Any) -> None:
    tokens = await site.tokens("ops1")
    page = await site.client.get("/console/schemas", headers={"Cookie": tokens.console_cookie})
    assert page.status_code == 200, page.text[:300]
    assert "No subscriptions module" not in page.text and "read right on nms:subscription" in page.text
