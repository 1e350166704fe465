"""Adobe's acc-js-sdk samples (samples/*.js of github.com/adobe/acc-js-sdk) through the real npm SDK against one
`ferry serve`: what a Campaign instance would answer with data ferry holds is answered (each step's result checked),
the rest is refused with FRY-400030 "ferry does not serve". One server and one node process (node/samples.js) for
every sample; docs/campaign-compat.md lists each sample and what ferry does with it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from ferry import options

NOT_SERVED = "FRY-400030"


@pytest.fixture(scope="module")
def steps(node_sdk: Path, server: Any) -> dict[str, dict[str, Any]]:
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run([node, str(node_sdk / "samples.js")], capture_output=True, text=True, timeout=300,
                            cwd=node_sdk, env={"ACC_URL": server.url, "PATH": str(Path(node).parent)})
    found = {line["step"]: line for line in map(json.loads, filter(None, result.stdout.splitlines()))}
    assert result.returncode == 0, f"{found}\n{result.stderr}\n{server.log.read_text()}"
    return found


def value(steps: dict[str, dict[str, Any]], name: str) -> Any:
    step = steps[name]
    assert "error" not in step, f"{name}: {step['error']}"
    return step["value"]


def test_samples_ferry_answers(steps: dict[str, dict[str, Any]]) -> None:
    # 000 - basics - logon.js
    assert value(steps, "000 version")["version"] == "1.2.0"
    assert value(steps, "000 logon and logoff") == {"logged": True, "instanceName": options.INSTANCE_NAME,
                                                   "buildNumber": options.BUILD_NUMBER, "loggedAfter": False}
    packages = value(steps, "000 packages")
    assert packages["packages"] == ["nms:core", "nms:ffda"]
    assert (packages["fda"], packages["core"], packages["ffda"]) == (False, True, True)
    user = value(steps, "000 current user")
    assert (user["login"], user["computeString"], user["timezone"], user["admin"]) == ("admin", "admin", "UTC", True)
    assert "admin" in user["rights"] and int(user["id"]) > 0
    opts = value(steps, "000 options")
    assert opts["databaseId"] == opts["cached"] == options.DATABASE_ID
    assert opts["fromCache"] == opts["fromServer"] == "@adobe/acc-js-sdk version 1.2.0 on 2026-12-07"
    assert "FRY-400032" in opts["readOnly"]
    server_time = value(steps, "000 server time") / 1000
    assert abs(server_time - time.time()) < 300
    server_info = value(steps, "000 serverInfo")
    assert (server_info["instanceName"], server_info["buildNumber"], server_info["databaseId"]) == (
        options.INSTANCE_NAME, options.BUILD_NUMBER, options.DATABASE_ID)
    user_info = value(steps, "000 userInfo")
    assert user_info["login"] == "admin"
    assert {"namespace": "nms", "name": "core"} in user_info["installed-package"]

    # 005 - basics - persist.js "Create a recipient" (Write), read back
    assert value(steps, "005 write recipients") is None
    assert value(steps, "005 created recipient") == {"count": "1"}

    # 001 - basics - queries.js, on nms:recipient (the sample's nms:deliveryMapping is Campaign's)
    assert value(steps, "001 get adapted") == {"email": "a@x.com", "firstName": "Ann", "gender": "2"}
    assert [r["email"] for r in value(steps, "001 select adapted")["recipient"]] == [
        "a@x.com", "amorin@adobe.com", "b@x.com", "c@x.com"]
    assert value(steps, "001 getIfExists adapted") is None
    first, second = value(steps, "001 pagination adapted")
    assert first == {"recipient": [{"email": "a@x.com"}, {"email": "amorin@adobe.com"}]}
    assert second == {"recipient": [{"email": "b@x.com"}, {"email": "c@x.com"}]}
    select_all = value(steps, "001 selectAll")
    assert select_all["nodes"] == len(options.SCHEMA.attributes)
    assert (select_all["result"]["name"], select_all["result"]["stringValue"],
            select_all["result"]["dataType"]) == ("XtkDatabaseId", options.DATABASE_ID, "6")
    built = value(steps, "001 BuildQuery adapted")
    assert built["sql"].startswith('SELECT "email" AS "c0"') and "'a@x.com'" in built["sql"]
    assert built["ex"] == [built["sql"], "string,string,byte"]
    analyzed = value(steps, "001 analyze adapted")
    assert analyzed["plain"] == {"email": "a@x.com", "firstName": "Ann", "gender": "2"}
    assert analyzed["analyzed"] == {"email": "a@x.com", "firstName": "Ann", "gender": "2", "genderName": "female",
                                    "genderLabel": "Female"}
    described = analyzed["described"]["select"]["node"]
    assert described[2] == {"alias": "gender", "type": "byte", "expr": "@gender", "label": "Gender",
                            "enum": "nms:recipient:gender"}
    assert value(steps, "001 alias adapted") == {"email": "a@x.com", "firstName": "Ann", "sex": "2"}

    # 002 - basics - schemas.js
    schema = value(steps, "002 getSchema json")
    assert (schema["namespace"], schema["name"]) == ("xtk", "option")
    assert {a["name"] for a in schema["element"]["attribute"]} >= {"name", "dataType", "stringValue"}
    xml = value(steps, "002 getSchema xml")
    assert xml.startswith("<schema ") and 'namespace="xtk" name="option"' in xml and 'name="stringValue"' in xml
    source = value(steps, "002 srcSchema adapted")
    assert (source["namespace"], source["name"]) == ("nms", "recipient")
    assert value(steps, "002 enumeration values") == {"enumValue": []}
    genders = value(steps, "002 enumeration values adapted")["enumValue"]
    assert [(g["name"], g["label"]) for g in genders] == [("unknown", "Not specified"), ("male", "Male"),
                                                          ("female", "Female")]
    described_schema = value(steps, "002 application.getSchema")
    assert (described_schema["id"], described_schema["rootLabel"]) == ("nms:recipient", "Recipients")
    assert {"@email", "@gender", "@created"} <= set(described_schema["childNames"])
    assert described_schema["genderEnum"] == "nms:recipient:gender"
    assert described_schema["enumerations"] == ["gender", "emailFormat"]
    assert value(steps, "002 getSchema missing") is None  # as Campaign answers for a missing schema

    # 005 - the Duplicate sample's query, on an operator ferry has
    operator = value(steps, "005 Duplicate: the operator query adapted")
    assert (operator["name"], operator["rights"]) == ("admin", "admin") and int(operator["id"]) > 0

    # 009 - basics - health.js
    assert value(steps, "009 test")["status"] == "OK"
    ping = value(steps, "009 ping")
    assert ping["status"] == "OK"
    assert dt.datetime.fromisoformat(ping["timestamp"].replace("Z", "+00:00"))
    assert value(steps, "009 mcPing") == "not installed"  # ferry does not report nms:messageCenter


@pytest.mark.parametrize("name", [
    "001 get (nms:deliveryMapping)", "001 select (nms:deliveryMapping)", "001 getIfExists (nms:deliveryMapping)",
    "001 BuildQuery (nms:deliveryMapping)", "002 srcSchema (nms:rtEvent)", "004 GetNewIdsEx", "005 NewInstance",
    "005 Duplicate", "005 set the folder (GetNewIdsEx)", "005 folder create", "005 folder write", "005 folder query",
    "011 installPackage xml", "011 installPackage json", "020 encrypt", "020 encryptPassword",
    "020 encryptServerPassword", "020 hashPassword", "020 reEncryptPassword", "030 postEvent", "600 pushEvent",
    "600 extAccount",
])
def test_samples_ferry_does_not_serve(steps: dict[str, dict[str, Any]], name: str) -> None:
    error = steps[name].get("error")
    assert error is not None, f"{name} answered {steps[name].get('value')!r}"
    assert error["errorCode"] == "SOP-330011" and NOT_SERVED in error["message"], error


def test_other_refusals_are_campaigns(steps: dict[str, dict[str, Any]]) -> None:
    # The Duplicate sample's operator 'webapp' does not exist in ferry: a get finds no record, as in Campaign.
    assert steps["005 Duplicate: the operator query (webapp)"]["error"]["errorCode"] == "XSV-350123"
    # Message Center's "mc/mc" login/password as a session token is not a ferry session.
    assert steps["600 session token logon"]["error"]["errorCode"] == "SDK-000012"
