"""`/docs` works without internet: the page names no external host and its assets are served by ferry."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ferry.config import Settings

pytestmark = pytest.mark.anyio


async def test_docs_page_and_assets_are_local(settings: Settings, in_process: Any) -> None:
    async with in_process(settings) as (_, client):
        page = await client.get("/docs")
        assert page.status_code == 200
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", page.text), page.text
        assets = re.findall(r"(?:src|href)=[\"']?(/[^\"' >]+)", page.text)
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
        for asset in assets:
            reply = await client.get(asset)
            assert reply.status_code == 200, asset
            assert len(reply.content) > 100
        assert "/docs/openapi-3.0.json" in page.text  # the packaged Swagger UI 4 renders OpenAPI 3.0
        assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.1")
        downgraded = (await client.get("/docs/openapi-3.0.json")).json()
        assert downgraded["openapi"] == "3.0.3" and downgraded["paths"].keys() == (
            await client.get("/openapi.json")).json()["paths"].keys()
        assert '"type": "null"' not in json.dumps(downgraded)
        redoc = await client.get("/redoc")
        assert redoc.status_code in (302, 307) and redoc.headers["location"] == "/docs"
