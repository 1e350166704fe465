"""A TCP proxy in front of PostgreSQL that a test controls: it can lose the reply to a chosen message."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

# ReadyForQuery: the server has finished the message (an autocommitted statement or COMMIT is durable by then).
_READY = b"Z\x00\x00\x00\x05"


class PgProxy:
    """Forwards connections to the server of `url`; `lose_reply_to(marker)` arms a one-shot fault: the client message
    holding `marker` reaches the server, the server's reply is read to its end and dropped, and the connection is cut.
    """

    def __init__(self, url: str) -> None:
        params = conninfo_to_dict(url)
        host = str(params.get("host") or "127.0.0.1")
        port = int(params.get("port") or 5432)
        self._upstream: tuple[int, str | tuple[str, int]]
        if host.startswith("/"):
            self._upstream = (socket.AF_UNIX, str(Path(host) / f".s.PGSQL.{port}"))
        else:
            self._upstream = (socket.AF_INET, (host, port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = make_conninfo(url, host="127.0.0.1", port=str(self.port))
        self._marker: bytes | None = None
        self._lock = threading.Lock()
        self.accepting = True
        self.cut = 0
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def lose_reply_to(self, marker: bytes) -> None:
        """Arm the fault for the next client message containing `marker`."""
        with self._lock:
            self._marker = marker

    def cut_all(self) -> None:
        """Cut every open connection now (new ones are still accepted): a server busy with a statement goes on with
        it, and may commit it, with nobody to answer."""
        sockets, self._sockets = self._sockets, []
        self.cut += len(sockets) // 2
        for sock in sockets:
            _shut(sock)

    def close(self) -> None:
        """Stop listening and cut every connection."""
        self.accepting = False
        with contextlib.suppress(OSError):
            self._listener.close()
        for sock in self._sockets:
            _shut(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.accepting:
                client.close()
                continue
            family, address = self._upstream
            server = socket.socket(family, socket.SOCK_STREAM)
            try:
                server.connect(address)
            except OSError:
                client.close()
                continue
            self._sockets += [client, server]
            dropping = threading.Event()
            threading.Thread(target=self._up, args=(client, server, dropping), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, dropping), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket, dropping: threading.Event) -> None:
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                data = b""
            if not data:
                _shut(server)
                return
            with self._lock:
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    dropping.set()
            try:
                server.sendall(data)
            except OSError:
                _shut(client)
                return


    def _down(self, server: socket.socket, client: socket.socket, dropping: threading.Event) -> None:
        seen = b""
        while True:
            try:
                data = server.recv(65536)
            except OSError:
                data = b""
            if not data:
                _shut(client)
                return
            if dropping.is_set():
                seen += data
                if _READY in seen:
                    self.cut += 1
                    _shut(client)
                    _shut(server)
                    return
                continue
            try:
                client.sendall(data)
            except OSError:
                _shut(server)
                return


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
