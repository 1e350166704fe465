"""Where ferry writes its own address (the WSDL's soap:address, unsubscribe links) it never takes a Host header it
does not know: FERRY_PUBLIC_URL when set, else only a host the server is bound to (issue 27, item 9)."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.anyio

EVIL = "evil.example"


async def wsdl_location(site: Any, host: str) -> str:
    reply = await site.client.get("/nl/jsp/schemawsdl.jsp", params={"schema": "xtk:session"}, headers={"Host": host})
    assert reply.status_code == 200, reply.text
    found = re.search(r'<soap:address location="([^"]+)"', reply.text)
    assert found is not None
    return found.group(1)


async def link(site: Any, host: str) -> str:
    tokens = await site.tokens("admin")
    reply = await site.client.post("/api/v1/services/news/links", json={"email": "ann@x.com"},
                                   headers={**tokens.headers, "Host": host})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["url"])


async def test_an_unknown_host_header_is_not_reflected(site: Any) -> None:
    assert await wsdl_location(site, EVIL) == "http://127.0.0.1:8080/nl/jsp/soaprouter.jsp"
    assert (await link(site, EVIL)).startswith("http://127.0.0.1:8080/l/unsubscribe?t=")
    # The host the server is bound to (and loopback names, as it listens on loopback) is reflected as asked.
    assert await wsdl_location(site, "127.0.0.1:9000") == "http://127.0.0.1:9000/nl/jsp/soaprouter.jsp"
    assert (await link(site, "localhost:8080")).startswith("http://localhost:8080/l/unsubscribe?t=")


@pytest.mark.parametrize("site_settings", [{"public_url": "https://ferry.example.com/"}])
async def test_the_public_url_is_written_whatever_the_host_header(site: Any) -> None:
    for host in (EVIL, "127.0.0.1:8080"):
        assert await wsdl_location(site, host) == "https://ferry.example.com/nl/jsp/soaprouter.jsp"
        assert (await link(site, host)).startswith("https://ferry.example.com/l/unsubscribe?t=")


@pytest.mark.parametrize("site_settings", [{"host": "0.0.0.0"}])
async def test_a_wildcard_bind_reflects_only_this_machines_names(site: Any) -> None:
    import socket

    assert EVIL not in await wsdl_location(site, EVIL)
    assert await wsdl_location(site, "127.0.0.1") == "http://127.0.0.1/nl/jsp/soaprouter.jsp"
    name = socket.gethostname()
    assert await wsdl_location(site, f"{name}:8080") == f"http://{name.lower()}:8080/nl/jsp/soaprouter.jsp"
    assert await wsdl_location(site, "203.0.113.9") != "http://203.0.113.9/nl/jsp/soaprouter.jsp"  # not ours
