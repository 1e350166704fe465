#!/usr/bin/env python3
"""Per-stage latency budget of unitary SOAP and REST Ingest calls (issue #17), measured on a real `ferry serve`.

    bench/latency_budget.py [--clients 8,32] [--calls 2000]

Starts `ferry serve` in a subprocess whose stages are wrapped with `time.perf_counter_ns` stamps (monkeypatched in
that process only: the product code carries no timing), drives it with keep-alive aiohttp clients as `bench/run`
does, and prints the p50 (and p90) µs of each stage per protocol and client count:

receive (ASGI entry → body read), envelope (SOAP: the envelope parsed), auth (the session checked: cache, and in
the code before issue 23 the revocation query in staging), parse (records), validate (`build_call`), hand-off (queued →
taken by a writer thread: the wait for a free writer, i.e. for a group), build (the group's statement), round trip
(statement + commit on PostgreSQL), back (writer → event loop), resume (loop → the handler continues), reply (the
answer built and sent), total. PostgreSQL from FERRY_BENCH_DATABASE_URL / FERRY_TEST_DATABASE_URL / local.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from soap_unitary import ENVELOPE, free_port  # noqa: E402

ADMIN_URL = (os.environ.get("FERRY_BENCH_DATABASE_URL") or os.environ.get("FERRY_TEST_DATABASE_URL")
             or "postgresql://postgres@127.0.0.1/postgres")
STAGES = ("receive", "envelope", "auth", "parse", "validate", "hand-off", "build", "round trip", "back", "resume",
          "reply", "total")
# Where each protocol stamps its steps: SOAP reads and parses the envelope before it knows the tokens; REST checks
# the tokens first.
ORDER = {"soap": ("start", "body", "envelope", "auth", "parsed"), "rest": ("start", "auth", "body", "parsed")}


# ------------------------------------------------------------------------------------------ inside the server


def serve(port: int, folder: Path, out: Path) -> None:
    """Run `ferry serve` with stamps around each stage; SIGUSR1 writes the calls measured so far to `out`."""
    from ferry.cli import serve_cmd
    from ferry.server import app as app_module
    from ferry.server.api import ingest as rest
    from ferry.server.api import soap as soap_routes
    from ferry.staging import group_commit, store

    now = time.perf_counter_ns
    current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("stamps", default=None)
    by_request: dict[Any, dict[str, Any]] = {}
    done: list[dict[str, Any]] = []

    def stamp(name: str) -> None:
        record = current.get()
        if record is not None:
            record[name] = now()

    def after(module: Any, attr: str, name: str) -> None:
        original = getattr(module, attr)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            stamp(name)
            return result

        setattr(module, attr, wrapper)

    def after_async(module: Any, attr: str, name: str) -> None:
        original = getattr(module, attr)

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            stamp(name)
            return result

        setattr(module, attr, wrapper)

    from ferry.auth import authenticator

    after_async(soap_routes, "read_limited", "body")
    after_async(rest, "read_body", "body")
    after(soap_routes, "parse_request", "envelope")
    for name in ("check_async", "check_deferred"):  # check_deferred: since issue 23
        if hasattr(authenticator.Authenticator, name):
            after_async(authenticator.Authenticator, name, "auth")
    after(soap_routes, "records_from_xml", "parsed")
    after(rest, "parse_records", "parsed")
    for module in (soap_routes, rest):
        original_build = module.build_call

        def build(*args: Any, _original: Any = original_build, **kwargs: Any) -> Any:
            call = _original(*args, **kwargs)
            record = current.get()
            if record is not None:
                record["validated"] = now()
                by_request[call.request_id] = record
            return call

        setattr(module, "build_call", build)  # noqa: B010

    from ferry.ingest import inserts

    for name in ("xml_call", "mapping_call"):
        # Since issue 23 a plain record (SOAP) or JSON object (REST) takes the columns path, parsed and validated in
        # one step (no `records_from_xml` / `parse_records` + `build_call`): "parse" holds both, "validate" is 0.
        original_columns = getattr(inserts, name)

        def columns(*args: Any, _original: Any = original_columns, **kwargs: Any) -> Any:
            call = _original(*args, **kwargs)
            record = current.get()
            if call is not None and record is not None:
                record["parsed"] = record["validated"] = now()
                by_request[call.request_id] = record
            return call

        setattr(inserts, name, columns)

    committer = group_commit.GroupCommitter
    original_submit = committer._submit

    async def submit(self: Any, *args: Any) -> Any:
        result = await original_submit(self, *args)
        stamp("resumed")
        return result

    committer._submit = submit  # type: ignore[method-assign]
    original_take = committer._take

    def take(self: Any) -> Any:
        batch, stop = original_take(self)
        taken = now()
        for item in batch:
            record = by_request.get(item.call.request_id)
            if record is not None:
                record["queued"], record["taken"] = item.queued_ns, taken
        return batch, stop

    committer._take = take  # type: ignore[method-assign]
    original_statement = store.insert_statement

    def statement(registry: Any, calls: Any, *args: Any) -> Any:
        found = original_statement(registry, calls, *args)
        built = now()
        for call in calls:
            record = by_request.get(call.request_id)
            if record is not None:
                record["built"] = built
        return found

    store.insert_statement = statement
    writer_class = group_commit._Writer
    original_commit = writer_class._commit

    def commit(self: Any, items: Any) -> None:
        original_commit(self, items)
        ended = now()
        for item in items:
            record = by_request.get(item.call.request_id)
            if record is not None:
                record["committed"] = ended

    writer_class._commit = commit  # type: ignore[method-assign]
    original_deliver = group_commit._deliver

    def deliver(batch: Any, outcomes: Any) -> None:
        back = now()
        for item in batch:
            record = by_request.get(item.call.request_id)
            if record is not None:
                record["back"] = back
        original_deliver(batch, outcomes)

    group_commit._deliver = deliver
    original_serving = app_module.serving_app

    def serving_app(app: Any) -> Any:
        inner = original_serving(app)

        async def timed(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http" or scope["method"] != "POST":
                await inner(scope, receive, send)
                return
            record: dict[str, Any] = {"start": now(), "proto": "soap" if "soaprouter" in scope["path"] else "rest"}
            token = current.set(record)
            try:
                await inner(scope, receive, send)
            finally:
                current.reset(token)
                record["end"] = now()
                if "committed" in record:
                    done.append(record)

        return timed

    app_module.serving_app = serving_app

    def dump(signum: int, frame: Any) -> None:
        out.write_text(json.dumps(done))
        done.clear()
        by_request.clear()

    signal.signal(signal.SIGUSR1, dump)
    serve_cmd.serve(host="127.0.0.1", port=port, data_dir=folder, log_level="warning")


def stages(record: dict[str, Any]) -> dict[str, float]:
    """µs per stage of one call (stamps missing on a path count as zero-length stages)."""
    order = (*ORDER[record["proto"]], "validated", "queued", "taken", "built", "committed", "back", "resumed", "end")
    stamps: list[int] = [record["start"]]
    for name in order[1:]:
        found = record.get(name)
        stamps.append(stamps[-1] if found is None else int(found))
    took = {name: (b - a) / 1000 for name, a, b in zip(order[1:], stamps[:-1], stamps[1:], strict=True)}
    return {"receive": took["body"], "envelope": took.get("envelope", 0.0), "auth": took["auth"],
            "parse": took["parsed"],
            # validated → queued is the loop's hand-off to submit (tiny): counted in "validate".
            "validate": took["validated"] + took["queued"], "hand-off": took["taken"], "build": took["built"],
            "round trip": took["committed"], "back": took["back"], "resume": took["resumed"], "reply": took["end"],
            "total": (stamps[-1] - stamps[0]) / 1000}


# ---------------------------------------------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "FOLDER", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--clients", default="8,32")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), Path(args.serve[1]), Path(args.serve[2]))
        return
    import httpx
    import psycopg
    from psycopg import sql

    name = f"ferry_latency_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db_url = urlsplit(ADMIN_URL)._replace(path="/" + name).geturl()
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-latency-") as tmp:
            folder, out, port = Path(tmp), Path(tmp) / "stamps.json", free_port()
            env = {**os.environ, "FERRY_DATABASE_URL": db_url, "FERRY_ADMIN_PASSWORD": "secret",
                   "FERRY_WAREHOUSE_URL": f"duckdb:///{folder / 'w.duckdb'}"}
            server = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(folder), str(out)], env=env,
                                      stdout=subprocess.DEVNULL)
            url = f"http://127.0.0.1:{port}"
            try:
                for _ in range(600):
                    try:
                        httpx.get(f"{url}/r/test", timeout=1)
                        break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                tokens = httpx.post(f"{url}/api/v1/logon", json={"login": "admin", "password": "secret"}).json()
                print(f"load average {os.getloadavg()[0]:.1f} at start", file=sys.stderr)
                table = []
                for clients in (int(c) for c in args.clients.split(",")):
                    for proto in ("soap", "rest"):
                        asyncio.run(drive(url, tokens, proto, clients, args.calls))
                        server.send_signal(signal.SIGUSR1)
                        for _ in range(100):
                            time.sleep(0.1)
                            if out.exists() and out.stat().st_size:
                                break
                        records = json.loads(out.read_text())
                        out.write_text("")
                        per = [stages(r) for r in records if r["proto"] == proto][clients * 3:]  # warm-up dropped
                        table.append((proto, clients, len(per), {
                            stage: (statistics.median(p[stage] for p in per),
                                    statistics.quantiles([p[stage] for p in per], n=10)[-1]) for stage in STAGES}))
                print(f"load average {os.getloadavg()[0]:.1f} at end", file=sys.stderr)
                print("| stage | " + " | ".join(f"{p.upper()} {c} (n={n})" for p, c, n, _ in table) + " |")
                print("|---|" + "---:|" * len(table))
                for stage in STAGES:
                    print(f"| {stage} | " + " | ".join(f"{row[stage][0]:,.0f} ({row[stage][1]:,.0f})"
                                                       for *_, row in table) + " |")
                print("\np50 µs per call (p90 in brackets)")
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=60)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def drive(url: str, tokens: dict[str, str], proto: str, clients: int, calls: int) -> None:
    import aiohttp

    session, security = tokens["sessionToken"], tokens["securityToken"]
    run = uuid.uuid4().hex[:6]

    async def client(n: int) -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
            for i in range(calls // clients):
                email = f"{proto}{run}-{n}-{i}@x.test"
                if proto == "soap":
                    record = f'<recipient xtkschema="nms:recipient" email="{email}" firstName="Ann" gender="1"/>'
                    body = ENVELOPE.format(method="Ingest", urn="xtk:session", token=session,
                                           params=f"<domDoc>{record}</domDoc>").encode()
                    headers = {"Content-Type": "text/xml", "X-Security-Token": security}
                    target = f"{url}/nl/jsp/soaprouter.jsp"
                else:
                    body = json.dumps({"email": email, "firstName": "Ann", "gender": 1}).encode()
                    headers = {"Authorization": f"Bearer {session}", "X-Security-Token": security,
                               "Content-Type": "application/json"}
                    target = f"{url}/api/v1/ingest/nms:recipient"
                async with http.post(target, data=body, headers=headers) as reply:
                    await reply.read()
                    if reply.status != 200:
                        raise SystemExit(f"unexpected reply {reply.status}")

    await asyncio.gather(*(client(n) for n in range(clients)))


if __name__ == "__main__":
    main()
