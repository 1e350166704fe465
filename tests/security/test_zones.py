"""`FERRY_SESSION_TOKEN_ONLY_NETWORKS`: from those networks the session token alone is enough (Campaign's
`sessionTokenOnly` zones), so the seed document's SOAP samples work as printed; elsewhere the security token stays
required."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

pytestmark = pytest.mark.anyio

SEED = Path(__file__).parent / "data" / "seed-soap-samples.md"
PLACEHOLDER = re.compile(r"___[0-9a-fx-]+")
ZONE = {"session_token_only_networks": "127.0.0.1/32"}


def seed_samples() -> list[tuple[str, str]]:
    """(request, response) pairs: every SOAP payload printed in the seed, then the response printed after it."""
    blocks = [textwrap.dedent(b) for b in re.findall(r"```\n(.*?)```", SEED.read_text("utf-8"), flags=re.S)]
    requests = [b for b in blocks if "<soapenv:Envelope" in b]
    responses = [b for b in blocks if "<SOAP-ENV:Envelope" in b]
    assert len(requests) == 3 and len(responses) == 3
    return list(zip(requests, responses, strict=True))


def shape(xml: bytes) -> list[tuple[str, str]]:
    """Element local names and texts of the Body, in document order: what a response means."""
    root = etree.fromstring(xml)
    body = next(child for child in root if etree.QName(child).localname == "Body")
    return [(etree.QName(el).localname, (el.text or "").strip()) for el in body.iter() if isinstance(el.tag, str)]


async def admin_session(site: Any) -> str:
    tokens = await site.logon("admin")
    return str(tokens.session)


async def post_sample(site: Any, request: str, session: str) -> httpx.Response:
    method = "IngestExt" if "<urn:IngestExt>" in request else "Ingest"
    body = PLACEHOLDER.sub(session, request, count=1).encode("utf-8")
    return await site.client.post("/nl/jsp/soaprouter.jsp", content=body,
                                  headers={"Content-Type": "text/xml; charset=utf-8",
                                           "SOAPAction": f"xtk:session#{method}"})


@pytest.mark.parametrize("site_settings", [ZONE])
@pytest.mark.parametrize("index", [0, 1, 2])
async def test_every_seed_sample_works_as_printed_in_a_session_token_only_zone(site: Any, index: int) -> None:
    request, expected = seed_samples()[index]
    session = await admin_session(site)
    before = site.counts()["ferry_stg.dem_sampletable"]
    reply = await post_sample(site, request, session)
    assert reply.status_code == 200 and "Fault" not in reply.text, reply.text
    got, want = shape(reply.content), shape(expected.encode("utf-8"))
    assert [name for name, _ in got] == [name for name, _ in want]
    if want[-1][1]:  # the first sample answers a new UUID; the others answer empty
        assert re.fullmatch(r"[0-9a-f-]{36}", got[-1][1])
    else:
        assert got == want
    assert site.counts()["ferry_stg.dem_sampletable"] == before + 1


async def test_outside_a_zone_the_security_token_stays_required(site: Any) -> None:
    request, _ = seed_samples()[0]
    before = site.counts()
    reply = await post_sample(site, request, await admin_session(site))
    assert "XSV-350008" in reply.text
    assert site.counts() == before


@pytest.mark.parametrize("site_settings", [{"session_token_only_networks": "10.0.0.0/8"}])
async def test_a_zone_elsewhere_does_not_cover_this_caller(site: Any) -> None:
    request, _ = seed_samples()[0]
    assert "XSV-350008" in (await post_sample(site, request, await admin_session(site))).text


@pytest.mark.parametrize("site_settings", [ZONE])
async def test_in_a_zone_a_wrong_security_token_is_still_refused(site: Any) -> None:
    admin, ops1 = await site.logon("admin"), await site.logon("ops1")
    request, _ = seed_samples()[0]
    body = PLACEHOLDER.sub(admin.session, request, count=1).encode()
    reply = await site.client.post("/nl/jsp/soaprouter.jsp", content=body,
                                   headers={"Content-Type": "text/xml", "X-Security-Token": ops1.security})
    assert "XSV-350008" in reply.text
    # REST in the zone: the bearer session token alone works; a forged one does not.
    ok = await site.client.get("/api/v1/status", headers={"Authorization": f"Bearer {admin.session}"})
    assert ok.status_code == 200
    forged = await site.client.get("/api/v1/status", headers={"Authorization": "Bearer ___FORGED"})
    assert forged.status_code == 401
