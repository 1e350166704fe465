"""Limits at the door against a real `ferry serve` (uvicorn + ferry.server.door.uvicorn_config), with raw sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

pytestmark = pytest.mark.e2e

E2E = Path(__file__).parent.parent / "e2e" / "conftest.py"


def _load_e2e() -> Any:
    """tests/e2e/conftest.py's start_server / stop_server (conftests are not importable under importlib mode)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ferry_e2e_support", E2E)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


e2e = _load_e2e()
ENV = {"FERRY_HEADER_TIMEOUT": "1", "FERRY_BODY_TIMEOUT": "1", "FERRY_MAX_CONNECTIONS_PER_CLIENT": "6",
       "FERRY_SESSION_TOKEN_ONLY_NETWORKS": "127.0.0.1/32"}


@pytest.fixture(scope="module")
def door(new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = e2e.start_server(new_database(), tmp_path_factory.mktemp("ferry-door"), **ENV)
    try:
        yield server
    finally:
        assert e2e.stop_server(server) == 0, server.log.read_text()


def address(server: Any) -> tuple[str, int]:
    url = urlparse(server.url)
    return str(url.hostname), int(url.port or 80)


CUT_SHORT: list[bool] = []


def exchange(server: Any, *parts: bytes, wait: float = 10.0) -> bytes:
    """Send `parts`, then read until the server closes (or `wait` passes); CUT_SHORT[-1] says whether the server
    closed the connection before all parts were sent."""
    with socket.create_connection(address(server), timeout=wait) as sock:
        CUT_SHORT.append(False)
        try:
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            CUT_SHORT[-1] = True  # the server refused and closed before the rest was sent
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return out


def status(reply: bytes) -> int:
    assert reply.startswith(b"HTTP/1.1 "), reply[:200]
    return int(reply.split(b" ", 2)[1])


def test_a_64_mb_header_on_r_test_is_refused_without_being_buffered(door: Any) -> None:
    head = b"GET /r/test HTTP/1.1\r\nHost: x\r\nX-Big: "
    # Streamed in 1 MB pieces: the server answers 431 after the first piece and closes; it never holds 64 MB.
    pieces = [head] + [b"a" * (1 << 20)] * 64 + [b"\r\n\r\n"]
    reply = exchange(door, *pieces)
    assert status(reply) == 431 and b"FRY-600013" in reply
    assert CUT_SHORT[-1], "the server read the whole 64 MB before answering"
    assert door.process.poll() is None


def test_too_many_headers_and_a_long_request_line(door: Any) -> None:
    many = b"".join(b"X-H%d: v\r\n" % n for n in range(150))
    assert status(exchange(door, b"GET /r/test HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")) == 431
    assert status(exchange(door, b"GET /r/test?" + b"q" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")) == 414


def test_slowloris_headers_and_a_stalled_body_time_out(door: Any) -> None:
    slow = exchange(door, b"GET /r/test HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n")  # never ends its head
    assert status(slow) == 408 and b"FRY-600014" in slow
    stalled = exchange(door, b"POST /api/v1/logon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100\r\n\r\n{\"login\": ")
    assert status(stalled) == 408


def test_connections_per_client_address_are_capped(door: Any) -> None:
    held = [socket.create_connection(address(door)) for _ in range(6)]
    try:
        assert status(exchange(door, b"GET /r/test HTTP/1.1\r\nHost: x\r\n\r\n")) == 429
    finally:
        for sock in held:
            sock.close()
    assert httpx.get(f"{door.url}/r/test", timeout=10).status_code == 200


def test_a_body_over_the_limit_is_413(door: Any) -> None:
    reply = exchange(door, b"POST /api/v1/ingest/dem:sampleTable HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           b"application/json\r\nContent-Length: 999999999999\r\n\r\n")
    assert status(reply) == 413


def test_forwarded_for_is_believed_only_from_allowed_proxies(new_database: Callable[[], str],
                                                              tmp_path: Path) -> None:
    """A zone of 127.0.0.1: a call claiming another address by X-Forwarded-For stays in it unless the proxy is
    trusted (--forwarded-allow-ips), in which case the forwarded address decides."""
    seed_like = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                 'xmlns:urn="urn:xtk:session"><soapenv:Header/><soapenv:Body><urn:Ingest><urn:sessiontoken>{t}'
                 '</urn:sessiontoken><urn:domDoc><sampleTableStg testcol1="v" xtkschema="dem:sampleTableStg"/>'
                 "</urn:domDoc></urn:Ingest></soapenv:Body></soapenv:Envelope>")
    for trusted, expect_ok in (("", True), ("127.0.0.1", False)):
        folder = tmp_path / (trusted or "none")
        env = {**ENV, "FERRY_FORWARDED_ALLOW_IPS": trusted}
        server = e2e.start_server(new_database(), folder, **env)
        try:
            logon = httpx.post(f"{server.url}/api/v1/logon", json={"login": "admin", "password": "secret"}).json()
            reply = httpx.post(f"{server.url}/nl/jsp/soaprouter.jsp", content=seed_like.format(
                t=logon["sessionToken"]), headers={"Content-Type": "text/xml", "X-Forwarded-For": "198.51.100.7"})
            assert ("XSV-350008" not in reply.text) is expect_ok, reply.text
        finally:
            assert e2e.stop_server(server) == 0


def test_serve_has_the_forwarded_allow_ips_option() -> None:
    found = subprocess.run([sys.executable, "-m", "ferry.cli", "serve", "--help"], capture_output=True, text=True,
                           env={**os.environ, "COLUMNS": "200"}, check=False)
    assert "--forwarded-allow-ips" in found.stdout
