"""The JSAPI a script sees, each call served by ferry's own code: answers, staged rows, errors with their codes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ferry.scripts.results import ScriptResult
from script_bench import ScriptBench


def infos(result: ScriptResult) -> list[str]:
    return [line.message for line in result.logs if line.level == "info"]


def ok(result: ScriptResult) -> list[str]:
    assert result.outcome == "succeeded", (result.error, result.line, result.column, result.logs)
    return infos(result)


def staged(bench: ScriptBench, request_id: str) -> dict[str, Any]:
    found = bench.db.store.request(uuid.UUID(request_id))
    assert found is not None
    return found


def test_ingest_xml_and_jxon_stage_what_soap_would(bench: ScriptBench) -> None:
    result = bench.run('''
        var a = xtk.session.Ingest(<sampleTableStg testcol1="x&y" testcol2={"<" + 1} xtkschema="dem:sampleTableStg"/>);
        var b = NLWS.xtkSession.ingest({sampleTableStg: {xtkschema: "dem:sampleTableStg", testcol1: "jxon"}});
        var c = xtk.session.Ingest(<sampleTableStg _key="@testcol1" testcol1="keyed" xtkschema="dem:sampleTable"/>);
        logInfo(a); logInfo(b); logInfo("[" + c + "]");''')
    first, second, third = ok(result)
    assert str(uuid.UUID(first)) == first and str(uuid.UUID(second)) == second and third == "[]"
    assert len(result.request_ids) == 3
    calls = [staged(bench, request_id) for request_id in result.request_ids]
    assert [call["origin"] for call in calls] == ["js"] * 3
    assert calls[0]["records"][0]["values"] == {"id": first, "testcol1": "x&y", "testcol2": "<1"}
    assert calls[1]["records"][0]["values"]["testcol1"] == "jxon"
    assert calls[2]["records"][0]["key"] == ["testcol1"]


def test_ingest_ext_updates_and_deletes(bench: ScriptBench) -> None:
    result = bench.run('''
        var r = xtk.session.IngestExt(<sampleTableStg _key="@testcol1" testcol1="k1" testcol2="v"
                                                      xtkschema="dem:sampleTableStg"/>);
        xtk.session.IngestExt({sampleTableStg: {xtkschema: "dem:sampleTableStg", _key: "@testcol1",
                                                _operation: "delete", testcol1: "k1"}});
        logInfo(typeof r);''')
    assert ok(result) == ["undefined"]
    ops = [staged(bench, request_id)["records"][0]["operation"] for request_id in result.request_ids]
    assert ops == ["insertOrUpdate", "delete"]


def test_a_refused_call_is_a_catchable_error_with_its_code(bench: ScriptBench) -> None:
    result = bench.run('''
        try {
          xtk.session.Ingest(<sampleTableStg nope="1" xtkschema="dem:sampleTableStg"/>);
        } catch (e) {
          logInfo(e.code); logInfo(e.message);
        }
        try { xtk.session.Ingest(<x xtkschema="dem:nothing"/>); } catch (e) { logInfo(e.code); }
        try { xtk.session.IngestExt(<sampleTableStg testcol1="a" xtkschema="dem:sampleTableStg"/>); }
        catch (e) { logInfo(e.code); }
        try { xtk.session.Ingest(42); } catch (e) { logInfo(e.code); }
        try { xtk.session.Ingest({a: 1, b: 2}); } catch (e) { logInfo(e.code); }''')
    lines = ok(result)
    assert lines[0] == "FRY-100005" and lines[1].startswith("FRY-100005 Record 1:") and "'nope'" in lines[1]
    assert lines[2:] == ["FRY-100003", "FRY-100011", "FRY-130008", "FRY-130008"]
    assert result.request_ids == []


def test_uncaught_ferry_error_ends_the_run_with_its_code_and_position(bench: ScriptBench) -> None:
    result = bench.run('logInfo("before");\n\n  xtk.session.Ingest(<sampleTableStg nope="1" '
                       'xtkschema="dem:sampleTableStg"/>);\nlogInfo("after");')
    assert result.outcome == "failed" and result.error is not None
    assert result.error.code.code == "FRY-100005"
    assert (result.line, result.column) == (3, 22)
    assert infos(result) == ["before"]


def test_write_then_query_every_operation_xml_and_jxon(bench: ScriptBench) -> None:
    result = bench.run('''
        xtk.session.WriteCollection(<recipient-collection xtkschema="nms:recipient">
            <recipient email="q1@x.com" firstName="Ann"/><recipient email="q2@x.com" firstName="Bob"/>
          </recipient-collection>);
        NLWS.xtkSession.write({recipient: {xtkschema: "nms:recipient", email: "q3@x.com", firstName: "Cy"}});
        var res = xtk.queryDef.create(<queryDef schema="nms:recipient" operation="select">
            <select><node expr="@email"/><node expr="@firstName"/></select>
            <where><condition expr="@email like 'q%'"/></where><orderBy><node expr="@email"/></orderBy>
          </queryDef>).ExecuteQuery();
        for each (var r in res.recipient) logInfo(r.@email + "=" + r.@firstName);
        var n = NLWS.xtkQueryDef.create({queryDef: {schema: "nms:recipient", operation: "count",
                                                    where: {condition: {expr: "@email like 'q%'"}}}}).executeQuery();
        logInfo("count " + n.@count);
        var one = xtk.queryDef.create(<queryDef schema="nms:recipient" operation="get">
            <select><node expr="@firstName"/></select><where><condition expr="@email = 'q2@x.com'"/></where>
          </queryDef>).ExecuteQuery();
        logInfo("get " + one.@firstName);
        var none = xtk.queryDef.create(<queryDef schema="nms:recipient" operation="getIfExists">
            <select><node expr="@firstName"/></select><where><condition expr="@email = 'no@x.com'"/></where>
          </queryDef>).ExecuteQuery();
        logInfo("getIfExists [" + none.@firstName + "]");
        try {
          xtk.queryDef.create(<queryDef schema="nms:recipient" operation="get">
            <select><node expr="@firstName"/></select><where><condition expr="@email = 'no@x.com'"/></where>
          </queryDef>).ExecuteQuery();
        } catch (e) { logInfo(e.code + " " + e.message.split(" ")[1]); }
        try { xtk.session.Write(<recipient xtkschema="nms:recipient" _operation="insert" email="q1@x.com"/>); }
        catch (e) { logInfo(e.code); }''')
    assert ok(result) == ["q1@x.com=Ann", "q2@x.com=Bob", "q3@x.com=Cy", "count 3", "get Bob", "getIfExists []",
                          "FRY-700007 XSV-350123", "FRY-400011"]


def test_get_option_log_levels_dates_and_vars(bench: ScriptBench) -> None:
    seen = []
    result = bench.run('''
        logInfo(getOption("XtkDatabaseId"));
        var pair = xtk.session.GetOption("XtkDatabaseId");
        logInfo(pair[0] + "/" + pair[1] + "/[" + getOption("NoSuchOption") + "]");
        logWarning("careful", 1);
        logInfo(formatDate(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), "%4Y-%2M-%2D %2H:%2N:%2S"));
        logInfo(formatDate(parseTimeStamp("2026-12-07 04:15:00"), "%2D/%2M/%2Y %H"));
        logInfo(parseTimeStamp("2026-12-07T04:15:00Z").getTime());
        logInfo(vars.name + " " + instance.vars.count);
        instance.vars.count = instance.vars.count + 1;
        instance.vars.last = vars.name;''', vars={"name": "Zoe"}, instance_vars={"count": 41}, on_log=seen.append)
    assert ok(result) == ["ferry", "ferry/6/[]", "2026-01-02 03:04:05", "07/12/26 4",
                          str(int(dt.datetime(2026, 12, 7, 4, 15, tzinfo=dt.UTC).timestamp() * 1000)), "Zoe 41"]
    assert [(line.level, line.message) for line in result.logs if line.level != "info"] == [("warning", "careful 1")]
    assert seen == result.logs
    assert result.instance_vars == {"count": 42, "last": "Zoe"}


def test_log_error_fails_the_run_even_when_caught(bench: ScriptBench) -> None:
    result = bench.run('try {\n  logError("disk full");\n} catch (e) { logInfo(e.code); }')
    assert result.outcome == "failed" and result.error is not None
    assert result.error.code.code == "FRY-130005" and (result.line, result.column) == (2, 3)
    assert infos(result) == ["FRY-130005"]


def test_load_library_translates_and_locates_its_errors(bench: ScriptBench) -> None:
    folder = bench.settings.data_dir / "scripts" / "cus"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "helpers.js").write_text('function shout(x) {\n  return String(<a b={x}/>.@b).toUpperCase();\n}\n'
                                       'function broken() {\n  null.x;\n}\n')
    result = bench.run('loadLibrary("cus:helpers.js");\nloadLibrary("cus:helpers.js");\nlogInfo(shout("hi"));\n'
                       'broken();')
    assert infos(result) == ["HI"]
    assert result.error is not None and result.error.code.code == "FRY-130001"
    assert (result.filename, result.line) == ("cus:helpers.js", 5)
    missing = bench.run('try { loadLibrary("cus:none.js"); } catch (e) { logInfo(e.code); }\n'
                        'loadLibrary("../../etc/passwd");')
    assert infos(missing) == ["FRY-130006"]
    assert missing.error is not None and missing.error.code.code == "FRY-130006"


def test_subscribe_and_unsubscribe_stage_requests(bench: ScriptBench) -> None:
    result = bench.run('''
        nms.subscription.Subscribe("news", <recipient email="sub@x.com"/>, true);
        NLWS.nmsSubscription.unsubscribe("news", {recipient: {email: "sub@x.com"}});
        try { nms.subscription.Subscribe("nope", <recipient email="sub@x.com"/>, true); }
        catch (e) { logInfo(e.code); }''')
    assert ok(result) == ["FRY-110001"]
    actions = [staged(bench, request_id)["records"][0]["values"]["action"] for request_id in result.request_ids]
    assert len(actions) == 2 and actions[0] != actions[1]


def test_functions_ferry_does_not_offer_end_the_run_naming_them(bench: ScriptBench) -> None:
    for call, name in [("sqlExec('DELETE FROM x')", "sqlExec"), ("sqlGetInt('select 1')", "sqlGetInt"),
                       ("application.operator.login", "application.operator"), ("new DOMDocument()", "DOMDocument"),
                       ("NL.require('/nl/core/shared/nl.js')", "NL.require"), ("xtk.workflow.Start(1)",
                                                                               "xtk.workflow")]:
        result = bench.run(f'try {{\n  {call};\n}} catch (e) {{ logInfo("swallowed"); }}\nlogInfo("after");')
        assert result.outcome == "failed" and result.error is not None, call
        assert result.error.code.code == "FRY-130004" and result.error.message.startswith(f"{name} is part"), call
        assert result.line == 2 and infos(result) == [], call


def test_every_touch_of_application_ends_the_run_naming_it(bench: ScriptBench) -> None:
    # `name`, `parent`, `text` are names the E4X translation reads through a symbol key: they once gave `undefined`.
    for access, name in [("var n = application.name", "application.name"),
                         ("logInfo(application.parent)", "application.parent"),
                         ("application.text()", "application.text"),
                         ("application.operator.login", "application.operator"),
                         ("application.getCurrentTime()", "application.getCurrentTime"),
                         ("application['buildNumber']", "application.buildNumber"),
                         ("application.vars = 1", "application.vars"),
                         ("'name' in application", "application.name"),
                         ("Object.keys(application)", "application"),
                         ("String(application)", "application"),
                         ("application()", "application")]:
        result = bench.run(f'try {{\n  {access};\n}} catch (e) {{ logInfo("swallowed"); }}\nlogInfo("after");')
        assert result.outcome == "failed" and result.error is not None, access
        assert result.error.code.code == "FRY-130004", access
        assert result.error.message.startswith(f"{name} is part"), (access, result.error.message)
        assert infos(result) == [], access


def test_options_and_operators_go_through_staging_as_soap_does(bench: ScriptBench) -> None:
    """Write of xtk:option stores in `ferry.options` (what GetOption reads); queryDef on xtk:option and xtk:operator
    reads staging's views (never the warehouse), with SOAP's rights: options for admins, operators only oneself."""
    from ferry.auth import Authenticator

    reader = Authenticator(bench.db.pool, bench.settings).add_operator("jsReader", "pw", schemas=["dem:sampleTable"])
    result = bench.run('''
        xtk.session.Write(<option xtkschema="xtk:option" name="JsOption" dataType="6" stringValue="hello"/>);
        NLWS.xtkSession.write({option: {xtkschema: "xtk:option", name: "JsCount", dataType: "3", longValue: "7"}});
        logInfo(getOption("JsOption") + "/" + getOption("JsCount"));
        var res = xtk.queryDef.create(<queryDef schema="xtk:option" operation="select">
            <select><node expr="@name"/><node expr="@stringValue"/></select>
            <where><condition expr="@name like 'Js%'"/></where><orderBy><node expr="@name"/></orderBy>
          </queryDef>).ExecuteQuery();
        for each (var o in res.option) logInfo(o.@name + "=" + o.@stringValue);
        var ops = xtk.queryDef.create(<queryDef schema="xtk:operator" operation="select">
            <select><node expr="@name"/></select><where><condition expr="@name = 'jsReader'"/></where>
          </queryDef>).ExecuteQuery();
        logInfo("operators " + ops.operator.length());''')
    assert ok(result) == ["hello/7", "JsCount=", "JsOption=hello", "operators 1"]
    with bench.db.pool.connection() as conn:
        stored = conn.execute('SELECT "name", "modifiedBy" FROM ferry.options WHERE "name" LIKE %s ORDER BY 1',
                              ("Js%",)).fetchall()
    assert [row[0] for row in stored] == ["JsCount", "JsOption"]
    refused = bench.run('''
        try { xtk.session.Write(<option xtkschema="xtk:option" name="JsOther" stringValue="x"/>); }
        catch (e) { logInfo(e.code); }
        try { xtk.queryDef.create(<queryDef schema="xtk:option" operation="count"/>).ExecuteQuery(); }
        catch (e) { logInfo(e.code); }
        var mine = xtk.queryDef.create(<queryDef schema="xtk:operator" operation="select">
            <select><node expr="@name"/></select></queryDef>).ExecuteQuery();
        for each (var o in mine.operator) logInfo(o.@name);''', operator=reader)
    assert ok(refused) == ["FRY-600003", "FRY-400013", "jsReader"]
