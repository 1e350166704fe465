#!/usr/bin/env python3
"""CPU per unitary Ingest call inside the server process, through the ASGI path and through the routes the HTTP
protocol serves directly (ferry.server.door.protocol), alternated in one process.

    bench/direct_door.py [--clients 8] [--calls 2000] [--rounds 3]

Requests go into the guarded httptools protocol on a fake transport (no sockets, no client): what is measured is
the process's CPU (the event loop and the group-commit writers) per call, so the two paths compare under the same
load of the box. PostgreSQL from FERRY_BENCH_DATABASE_URL (else as bench/run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import ENVELOPE, SOAP_PATH, Databases, json_record, soap_record  # noqa: E402


class Transport:
    """Keeps nothing; wakes the client when a response (one write) is out."""

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.closed = False
        self.last = b""

    def write(self, data: bytes) -> None:
        self.last = data
        self.done.set()

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Plain:
    """The served app without `direct`: the protocol takes the ASGI path."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def raw(path: str, headers: dict[str, str], body: bytes) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: ferry", *(f"{k}: {v}" for k, v in headers.items()),
            f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def run(args: argparse.Namespace, url: str, folder: Path) -> None:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    from ferry.config import Settings
    from ferry.server.app import create_app, serving_app
    from ferry.server.door.protocol import GuardedHttpToolsProtocol
    from ferry.server.process.runtime import Runtime
    from ferry.staging import StagingDatabase

    settings = Settings.from_env(database_url=url, data_dir=folder, warehouse_url=f"duckdb:///{folder / 'w.duckdb'}")
    db = StagingDatabase.open(settings)
    runtime = Runtime(settings, db=db)
    runtime.auth.add_operator("bench", "pw", admin=True)
    served = serving_app(create_app(runtime))
    await runtime.start()
    protocol_class = GuardedHttpToolsProtocol.configure(settings)
    loop = asyncio.get_running_loop()

    def connect(app: Any) -> tuple[Any, Transport]:
        config = Config(app=app, http="httptools", proxy_headers=False, log_config=None)
        config.load()
        state = ServerState()
        protocol = protocol_class(config=config, server_state=state, app_state={}, _loop=loop)
        transport = Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        return protocol, transport

    async def call(protocol: Any, transport: Transport, request: bytes) -> bytes:
        transport.done.clear()
        protocol.data_received(request)
        await transport.done.wait()
        return transport.last

    logon = raw("/api/v1/logon", {"Content-Type": "application/json"},
                json.dumps({"login": "bench", "password": "pw"}).encode())
    protocol, transport = connect(served)
    reply = json.loads((await call(protocol, transport, logon)).split(b"\r\n\r\n", 1)[1])
    session, security = reply["sessionToken"], reply["securityToken"]
    tag = [0]

    def soap() -> bytes:
        tag[0] += 1
        body = ENVELOPE.format(method="Ingest", urn="xtk:session", token=session,
                               params=f"<domDoc>{soap_record(f'd{tag[0]}')}</domDoc>").encode()
        return raw(SOAP_PATH, {"Content-Type": "text/xml", "X-Security-Token": security}, body)

    def rest() -> bytes:
        tag[0] += 1
        return raw("/api/v1/ingest/nms:recipient", {"Content-Type": "application/json", "X-Security-Token": security,
                                                     "Authorization": f"Bearer {session}"},
                   json_record(f"d{tag[0]}").encode())

    async def drive(app: Any, make: Any, expect: bytes) -> float:
        async def client(n: int) -> None:
            protocol, transport = connect(app)
            for _ in range(n):
                answer = await call(protocol, transport, make())
                assert expect in answer, answer[:400]
            protocol.connection_lost(None)

        started = time.process_time()
        await asyncio.gather(*(client(args.calls // args.clients) for _ in range(args.clients)))
        return (time.process_time() - started) / (args.calls // args.clients * args.clients)

    try:
        for kind, make, expect in (("soap", soap, b"<pstrSUuids"), ("rest", rest, b'"uuid"')):
            await drive(served, make, expect)  # warm-up
            seen: dict[str, list[float]] = {"asgi": [], "direct": []}
            for _ in range(args.rounds):
                seen["asgi"].append(await drive(Plain(served), make, expect))
                seen["direct"].append(await drive(served, make, expect))
            print(f"{kind}: CPU µs per call, ASGI path " + " ".join(f"{v * 1e6:.0f}" for v in seen["asgi"]) +
                  " | direct " + " ".join(f"{v * 1e6:.0f}" for v in seen["direct"]), flush=True)
    finally:
        await runtime.stop()
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dbs = Databases()
    try:
        with tempfile.TemporaryDirectory(prefix="ferry-direct-") as tmp:
            try:
                import uvloop

                runner: Any = uvloop.run
            except ImportError:
                runner = asyncio.run
            runner(run(args, dbs.new("direct"), Path(tmp)))
    finally:
        dbs.drop()


if __name__ == "__main__":
    main()
