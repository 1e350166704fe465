"""One-click unsubscribe links: valid (GET page, RFC 8058 POST), tampered and expired tokens."""

from __future__ import annotations

from typing import Any

import pytest

from ferry.subscriptions import links

pytestmark = pytest.mark.anyio
ONE_CLICK = {"content": b"List-Unsubscribe=One-Click",
             "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


def _token(api: Any, service: str | None, **kwargs: Any) -> str:
    return links.make_token(links.secret(api.runtime.db.pool), {"email": "ann@x.com"}, service, **kwargs)


async def test_valid_link_unsubscribes_with_origin_link(api: Any) -> None:
    assert await api.soap("Subscribe", "news", '<recipient email="ann@x.com"/>', create=True) is None
    await api.sync()
    token = _token(api, "news")
    page = await api.client.get(links.LINK_PATH, params={"t": token})
    assert page.status_code == 200 and "<form" in page.text and "news" in page.text
    assert len(api.staged()) == 1  # GET changes nothing
    done = await api.client.post(links.LINK_PATH, params={"t": token}, **ONE_CLICK)
    assert done.status_code == 200 and "Unsubscribed" in done.text
    assert api.staged()[-1][:3] == ("news", 0, "link")
    await api.sync()
    assert api.wh("SELECT count(*) FROM nms_subscription") == [(0,)]
    history = (await api.get("/api/v1/recipients/history", email="ann@x.com")).json()["history"]
    assert [(h["action"], h["origin"]) for h in history] == [("subscribe", "soap"), ("unsubscribe", "link")]


async def test_tampered_and_expired_links_stage_nothing(api: Any) -> None:
    token = _token(api, "news")
    body, _, signature = token.partition(".")
    forged = links.make_token(b"another secret", {"email": "ann@x.com"}, "news")
    other = _token(api, "sms_alerts").partition(".")[0]
    for bad in (forged, other + "." + signature, body + "." + signature[:-2] + "AA", body, "", "x.y.z"):
        for reply in (await api.client.get(links.LINK_PATH, params={"t": bad}),
                      await api.client.post(links.LINK_PATH, params={"t": bad}, **ONE_CLICK)):
            assert reply.status_code == 400 and "not valid" in reply.text
    expired = _token(api, "news", ttl_seconds=-1)
    for reply in (await api.client.get(links.LINK_PATH, params={"t": expired}),
                  await api.client.post(links.LINK_PATH, params={"t": expired}, **ONE_CLICK)):
        assert reply.status_code == 400 and "expired" in reply.text
    assert api.staged() == []


async def test_link_helper_and_headers(api: Any) -> None:
    reply = await api.post("/api/v1/services/news/links", json={"email": "ann@x.com", "ttlDays": 1})
    assert reply.status_code == 200, reply.text
    url, headers = reply.json()["url"], reply.json()["headers"]
    # The test client's Host (ferry.test) is not one the server is bound to: the bound address is written instead.
    assert url.startswith("http://127.0.0.1:8080/l/unsubscribe?t=")
    assert headers == {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    claim = links.read_token(links.secret(api.runtime.db.pool), url.split("t=", 1)[1].replace("%3D", "="))
    assert claim.service == "news" and claim.values == {"email": "ann@x.com"}
    # The secret is generated once and kept in staging.
    assert links.secret(api.runtime.db.pool) == links.secret(api.runtime.db.pool)
