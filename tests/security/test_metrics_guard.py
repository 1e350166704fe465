"""`/metrics`: open when ferry listens on loopback; else loopback scrapers only, unless FERRY_METRICS_TOKEN (bearer)
or FERRY_METRICS_NETWORKS allow others."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio


async def scrape(site: Any, client: tuple[str, int] = ("127.0.0.1", 5000), **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=site.client._transport.app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://ferry.test") as other:
        return await other.get("/metrics", headers=headers)


async def test_open_when_listening_on_loopback(site: Any) -> None:
    assert (await scrape(site, ("203.0.113.9", 1))).status_code == 200


@pytest.mark.parametrize("site_settings", [{"host": "0.0.0.0"}])
async def test_loopback_only_when_listening_beyond_it(site: Any) -> None:
    assert (await scrape(site)).status_code == 200
    refused = await scrape(site, ("203.0.113.9", 1))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FRY-600016"
    assert "FERRY_METRICS_TOKEN" in refused.json()["error"]["message"]


@pytest.mark.parametrize("site_settings", [{"host": "0.0.0.0", "metrics_token": "scrape-me"}])
async def test_a_bearer_token(site: Any) -> None:
    assert (await scrape(site, ("203.0.113.9", 1))).status_code == 401
    assert (await scrape(site, ("203.0.113.9", 1), Authorization="Bearer nope")).status_code == 401
    good = await scrape(site, ("203.0.113.9", 1), Authorization="Bearer scrape-me")
    assert good.status_code == 200 and "ferry_calls_total" in good.text
    assert (await scrape(site, Authorization="Bearer nope")).status_code == 401  # loopback needs it too


@pytest.mark.parametrize("site_settings", [{"host": "0.0.0.0", "metrics_networks": "10.0.0.0/8"}])
async def test_a_network_list(site: Any) -> None:
    assert (await scrape(site, ("10.20.30.40", 1))).status_code == 200
    assert (await scrape(site, ("192.168.1.1", 1))).status_code == 403
    assert (await scrape(site)).status_code == 403
