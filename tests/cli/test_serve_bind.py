"""`ferry serve` binds its socket before it says it listens; a taken port is a clear error."""

from __future__ import annotations

import socket

import pytest

from ferry.cli.serve_cmd import bind
from ferry.errors import FerryError


def test_a_taken_port_is_reported_with_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(FerryError) as caught:
            bind("127.0.0.1", port)
    assert caught.value.code.code == "FRY-400014"
    assert caught.value.message.startswith(f"cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "--port" in caught.value.message


def test_a_free_port_is_bound_and_listening() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # accepted into the backlog: the socket listens before uvicorn serves it
    finally:
        sock.close()


def test_an_unknown_host_is_reported() -> None:
    with pytest.raises(FerryError) as caught:
        bind("no-such-host.invalid", 8080)
    assert caught.value.message.startswith("cannot listen on no-such-host.invalid:8080")
