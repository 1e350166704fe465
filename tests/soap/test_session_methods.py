"""GetOption (the options clients ask first), GetUserInfo (the operator's login and rights) and mcPing.jsp."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from lxml import etree

from ferry.server.api import mcping

pytestmark = pytest.mark.anyio


async def _option(soap: Any, name: str, session: str, security: str) -> tuple[str, str]:
    reply = await soap.call("xtk:session", "GetOption", f'<name xsi:type="xsd:string">{name}</name>',
                            session=session, security=security)
    assert reply.fault is None, reply.body
    return reply.output("pstrValue").text or "", reply.output("pbyteType").text


async def test_get_option_answers_the_database_id_of_server_info(soap: Any) -> None:
    logon = await soap.call("xtk:session", "Logon", '<login xsi:type="xsd:string">admin</login>'
                            '<password xsi:type="xsd:string">secret</password>')
    server_info = next(logon.output("pSessionInfo").iter("{*}serverInfo"))
    session, security = logon.output("pstrSessionToken").text, logon.output("pstrSecurityToken").text
    assert await _option(soap, "XtkDatabaseId", session, security) == (server_info.get("databaseId"), "6")
    assert await _option(soap, "NmsServer_LastPostUpgrade", session, security) == (server_info.get("buildNumber"),
                                                                                  "6")
    # Unknown options, and secrets ferry never hands out: "" with type 0, as Campaign answers an unknown option.
    for name in ("XtkSecretKey", "NoSuchOption"):
        assert await _option(soap, name, session, security) == ("", "0")


async def test_get_user_info_names_the_operator_and_rights(soap: Any) -> None:
    for login, password, rights in (("admin", "secret", [("login-right", "admin")]),
                                    ("bob", "pw", [("schema-right", "dem:sampleTable")])):
        session, security = await soap.logon(login, password)
        reply = await soap.call("xtk:session", "GetUserInfo", session=session, security=security)
        assert reply.fault is None, reply.body
        assert reply.output("pUserInfo").get("{http://www.w3.org/2001/XMLSchema-instance}type") == "ns:Element"
        info = reply.output("userInfo")
        assert info.get("login") == login and info.get("loginId", "").isdigit()
        assert [(etree.QName(child).localname, child.get("right") or child.get("schema")) for child in info] == rights
    assert (await soap.call("xtk:session", "GetUserInfo", session="nope", security="nope")).fault.startswith(
        "XSV-350008")


async def test_mc_ping_reports_the_staging_backlog(soap: Any) -> None:
    assert (await soap.client.get(mcping.PATH)).status_code == 401
    session, security = await soap.logon()
    ingest = await soap.call("xtk:session", "Ingest", soap.doc('<sampleTable xtkschema="dem:sampleTable" '
                                                               'testcol1="a"/>'), session=session, security=security)
    assert ingest.fault is None, ingest.body
    reply = await soap.client.get(mcping.PATH, headers={"X-Session-Token": session, "X-Security-Token": security})
    assert reply.status_code == 200
    lines = reply.text.split("\n")
    assert lines[0] == "Ok" and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z", lines[1])
    assert lines[2] == f"1/{mcping.THRESHOLD} pending events"


def test_mc_ping_over_the_threshold_is_an_error_the_sdk_parses() -> None:
    text = mcping.answer(12, dt.datetime.now(dt.UTC), threshold=10)
    status, error = text.split("\n")[:2]
    assert status == "Error" and error[error.index("(") + 1:error.index(")")] == "12/10"
