"""SOAP log lines name the calling operator (FERRY_LOG_JSON=1), as REST's do: the context a call's lines carry,
the access line included, is the one its task holds when the app returns."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from ferry.logs import current_context, log_context

pytestmark = pytest.mark.anyio


async def test_a_soap_call_puts_its_operator_in_the_log_context(soap: Any) -> None:
    seen: list[dict[str, str]] = []
    inner = soap.client._transport.app

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        with log_context():  # each call starts from an empty context, as a server connection's task does
            await inner(scope, receive, send)
            seen.append(current_context())

    session, security = await soap.logon("admin", "secret")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=recording), base_url="http://ferry") as client:
        soap.client, kept = client, soap.client
        try:
            reply = await soap.call("xtk:session", "GetOption", '<name xsi:type="xsd:string">XtkDatabaseId</name>',
                                    session=session, security=security)
            assert reply.fault is None, reply.body
            refused = await soap.call("xtk:session", "GetOption", '<name xsi:type="xsd:string">x</name>',
                                      session="nope", security="nope")
            assert refused.fault is not None
            # Ingest confirms a cached session in its write (check_deferred): its lines name the operator too.
            staged = await soap.call("xtk:session", "Ingest", soap.doc(
                '<sampleTableStg testcol1="x" xtkschema="dem:sampleTableStg"/>'), session=session, security=security)
            assert staged.fault is None, staged.body
        finally:
            soap.client = kept
    assert seen[0].get("operator") == "admin"
    assert "operator" not in seen[1]  # no valid session: no operator named
    assert seen[2].get("operator") == "admin"
