"""Workflow scripts (issue 22): a script's unitary Ingest loop vs the Python Session making the same calls and vs
unitary SOAP from one client; a script's one 10,000-record collection vs one REST collection; the start of a run."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness import SOAP_PATH, Databases, Server, drive, expect, json_record, soap_record, spread, staging
from report import add

UNITARY_JS = """
for (var i = 0; i < vars.count; i++) {
  xtk.session.Ingest(<recipient xtkschema="nms:recipient" email={vars.tag + "-" + i + "@x.test"} firstName="Ann"
                                lastName="Lee" gender="1"/>);
}
"""

COLLECTION_JS = """
var all = <recipient-collection xtkschema="nms:recipient"/>;
for (var i = 0; i < vars.count; i++) {
  all.appendChild(<recipient email={vars.tag + "-" + i + "@x.test"} firstName="Ann" lastName="Lee" gender="1"/>);
}
xtk.session.Ingest(all);
"""


def start_source(lines: int, salt: str = "") -> str:
    """A script of `lines` lines (E4X literals, attributes, a comparison) whose body is translated but not run;
    a different `salt` makes a text the translator has not seen."""
    record = ('  var r{n} = <recipient xtkschema="nms:recipient" email={{"a" + {n} + "@x.test"}} firstName="Ann"/>;\n'
              '  if (r{n}.@email == "never") logInfo(r{n}.toXMLString());\n')
    return (f"// {salt}\nfunction never() {{\n" + "".join(record.format(n=n) for n in range(lines // 2 - 3))
            + "}\nlogInfo('go');\n")


def timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def scripts(cfg: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """Script vs Session and SOAP (unitary), script vs REST (a 10,000-record collection), start of a run."""
    from ferry.scripts import runner
    from ferry.scripts.api import ScriptApi
    from ferry.scripts.e4x import translate
    from ferry.scripts.runner import keep_warm, run_script
    from ferry.session import Session

    dbs = Databases()
    calls, size = cfg["script_calls"], cfg["script_collection"]
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-bench-") as tmp:
            url = dbs.new("js")
            db = staging(url, Path(tmp) / "cli")
            server = Server(url, Path(tmp) / "serve")
            run = uuid.uuid4().hex[:6]

            def script(source: str, count: int, tag: str) -> None:
                api = ScriptApi.for_staging(db, db_settings, warehouse=lambda: None)
                result = run_script(source, filename="bench.js", api=api, vars={"count": str(count), "tag": tag},
                                    time_limit=3600)
                if result.outcome != "succeeded":
                    raise SystemExit(f"bench script failed: {result.error} at {result.location}")

            def session_calls(count: int, tag: str) -> None:
                session = Session(db, origin="python")
                for i in range(count):
                    session.ingest(soap_record(f"{tag}-{i}"))

            async def soap(http: Any, n: int, i: int, tag: str) -> None:
                async with http.post(server.url + SOAP_PATH, headers=server.soap_headers(),
                                     data=server.soap_body(soap_record(f"{tag}-{n}-{i}"))) as r:
                    await expect(r, b"<pstrSUuids")

            async def rest_collection(http: Any, n: int, i: int, tag: str) -> None:
                body = "\n".join(json_record(f"{tag}-{n}-{i}-{k}") for k in range(size)).encode()
                async with http.post(server.url + "/api/v1/ingest/nms:recipient",
                                     headers=server.rest_headers("application/x-ndjson"), data=body) as r:
                    await expect(r, b"uuid")

            from ferry.config import Settings

            db_settings = Settings.from_env(database_url=url, data_dir=Path(tmp) / "cli")
            results: dict[str, list[float]] = {"script": [], "session": [], "soap": [], "coll_script": [],
                                               "coll_rest": []}
            try:
                for repeat in range(cfg["repeats"]):
                    tag = f"{run}-{repeat}"
                    results["script"].append(calls / timed(lambda tag=tag: script(UNITARY_JS, calls, f"js{tag}")))
                    results["session"].append(calls / timed(lambda tag=tag: session_calls(calls, f"py{tag}")))
                    lat, secs, _ = asyncio.run(drive(1, calls, lambda h, n, i, tag=tag: soap(h, n, i, f"so{tag}")))
                    results["soap"].append(len(lat) / secs)
                    results["coll_script"].append(
                        size / timed(lambda tag=tag: script(COLLECTION_JS, size, f"cj{tag}")))
                    lat, secs, _ = asyncio.run(drive(1, 1, lambda h, n, i, tag=tag: rest_collection(h, n, i,
                                                                                                    f"cr{tag}")))
                    results["coll_rest"].append(size / secs)
                starts: dict[str, list[float]] = {"fresh worker, new script": [],
                                                  "fresh worker, script an earlier process ran": [],
                                                  "warm worker, new script": [],
                                                  "warm worker, same script again": []}
                for warm in (False, True):
                    keep_warm(warm)
                    for n in range(max(5, cfg["repeats"])):
                        time.sleep(1.0)  # a warm worker is ready again (its interpreter has started)
                        kind = "warm worker, new script" if warm else "fresh worker, new script"
                        source = start_source(500, f"{run}-{warm}-{n}")
                        starts[kind].append(timed(lambda source=source: script(source, 0, "start")) * 1000)
                        time.sleep(1.0)
                        if warm:
                            starts["warm worker, same script again"].append(
                                timed(lambda source=source: script(source, 0, "start")) * 1000)
                        else:
                            # `ferry js` of a script run before: this process forgets the text, the data folder
                            # keeps its translation.
                            runner._remembered.clear()
                            translate.cache_clear()
                            starts["fresh worker, script an earlier process ran"].append(
                                timed(lambda source=source: script(source, 0, "start")) * 1000)
                keep_warm(False)
            finally:
                server.stop()
                db.close()
            median = {name: statistics.median(values) for name, values in results.items()}
            add(rows, f"script Ingest loop, {calls} unitary calls vs Python Session", median["script"],
                median["session"], ">= 0.8", "records/s")
            add(rows, f"script Ingest loop, {calls} unitary calls vs SOAP from one client", median["script"],
                median["soap"], "reported", "records/s")
            add(rows, f"script collection of {size} records in one call vs one REST collection",
                median["coll_script"], median["coll_rest"], ">= 0.5", "records/s")
            for kind, values in starts.items():
                add(rows, f"script run start, 500 lines ({kind})", statistics.median(values), 100.0, "<= 100 ms", "ms")
            notes.append(f"scripts: spreads script {spread(results['script']):.0%}, session "
                         f"{spread(results['session']):.0%}, SOAP {spread(results['soap']):.0%}; the script's "
                         "collection time includes building it in E4X; run start = the E4X translation (skipped for "
                         "a text this process translated before: a scheduled workflow's repeated runs; read from the "
                         "data folder's script-cache/ for a text an earlier process translated), the engine, the "
                         "prelude, and a fresh worker process (ferry js, started while the parent translates) or one "
                         "started ahead (a server)")
    finally:
        dbs.drop()
