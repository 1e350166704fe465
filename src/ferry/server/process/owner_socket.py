"""The warehouse owner's private socket: the other processes of `ferry serve --workers N` reach a DuckDB warehouse
(one process per file) through it. Not the public app: a few operations (see `ferry.warehouse.remote`).

Who may connect: the socket is mode 0600 in a folder only this user can enter, the peer's uid (SO_PEERCRED) must
be this process's, and its first message must carry the secret given to the workers in their environment.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import secrets
import shutil
import socket
import socketserver
import stat
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

from ferry import errors
from ferry.errors import FerryError
from ferry.schema.model import Schema
from ferry.warehouse.base import BatchOutcome
from ferry.warehouse.remote import (
    decode_outcome,
    decode_value,
    encode_error,
    encode_outcome,
    encode_rows,
    recv_message,
    same_outcome,
    send_message,
    table_from_ipc,
)

log = logging.getLogger(__name__)

RUN_FOLDER = "run"  # in the data folder, mode 0700
MAX_REQUEST = 256 << 20  # bytes of one request frame (a Write call's batch is far smaller)
HELLO_TIMEOUT = 5.0  # seconds a new connection has to present the secret
_SUN_PATH_MAX = 100  # AF_UNIX paths are limited to ~108 bytes; longer data folders use a private temp folder


def private_folder(data_dir: Path) -> tuple[Path, bool]:
    """A folder only this user can enter for the socket: `<data_dir>/run`, or a fresh temp folder when that path
    would be too long for a Unix socket; True when the folder is a temp one (removed at stop)."""
    folder = data_dir.resolve() / RUN_FOLDER
    if len(str(folder)) + 32 <= _SUN_PATH_MAX:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
        if info.st_uid != os.getuid():
            raise FerryError(errors.CONFIG_ERROR, f"{folder} belongs to another user: the warehouse owner's socket "
                             "cannot be made private there")
        if stat.S_IMODE(info.st_mode) & 0o077:
            folder.chmod(0o700)
        return folder, False
    return Path(tempfile.mkdtemp(prefix="ferry-")), True  # mkdtemp makes it 0700


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = False
    owner: WarehouseOwner


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        owner = self.server.owner
        with owner._lock:
            owner._connections.add(sock)
        try:
            refusal = owner.admit(sock)
            if refusal is not None:
                send_message(sock, {"ok": False, "error": encode_error(refusal)})
                return
            send_message(sock, {"ok": True, "result": {"pid": os.getpid()}})
            sock.settimeout(None)
            while True:
                try:
                    header, blob = recv_message(sock, MAX_REQUEST)
                except (OSError, ValueError):  # closed, broken or malformed: drop the connection
                    return
                send_message(sock, owner.answer(header, blob))
        except OSError:
            return  # the worker went away mid-reply
        finally:
            with owner._lock:
                owner._connections.discard(sock)


class WarehouseOwner:
    """Serves the warehouse of `runtime` (role all) on a private Unix socket to the other worker processes."""

    def __init__(self, runtime: Any, *, secret: str | None = None, folder: Path | None = None,
                 uid: int | None = None) -> None:
        self.runtime = runtime
        self.secret = secret or secrets.token_urlsafe(32)
        self.uid = os.getuid() if uid is None else uid
        if folder is None:
            folder, self._temp = private_folder(runtime.settings.data_dir)
        else:
            self._temp = False
        self.folder = folder
        self.path = str(folder / f"warehouse-{os.getpid()}.sock")
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def start(self) -> None:
        """Listen (the socket file mode 0600) and serve each connection on its own daemon thread."""
        _remove_stale(self.folder)
        server = _Server(self.path, _Handler, bind_and_activate=False)
        server.owner = self
        try:
            server.server_bind()
            os.chmod(self.path, 0o600)
            server.server_activate()
        except OSError as exc:
            server.server_close()
            raise FerryError(errors.CANNOT_LISTEN, f"cannot listen on the warehouse owner's socket {self.path}: "
                             f"{exc.strerror or exc}") from None
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="ferry-owner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening, end the workers' connections and remove the socket."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            open_ones = list(self._connections)
        for sock in open_ones:  # idle connections of the workers end now, not with this process
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        if self._temp:
            shutil.rmtree(self.folder, ignore_errors=True)

    def environ(self) -> dict[str, str]:
        """What a worker needs in its environment to reach this owner."""
        from ferry.warehouse.remote import OWNER_SECRET_ENV, OWNER_SOCKET_ENV

        return {OWNER_SOCKET_ENV: self.path, OWNER_SECRET_ENV: self.secret}

    # -- admission ------------------------------------------------------------------------------------------------

    def admit(self, sock: socket.socket) -> FerryError | None:
        """None when the peer runs as this user and presents the secret; else why it is refused."""
        peer = peer_uid(sock)
        if peer is not None and peer != self.uid:
            log.warning("warehouse owner socket: refused a connection from uid %s", peer)
            return FerryError(errors.FORBIDDEN, f"the warehouse owner only serves processes of uid {self.uid}")
        sock.settimeout(HELLO_TIMEOUT)
        try:
            header, _ = recv_message(sock, 4096)
        except (OSError, ValueError):
            return FerryError(errors.FORBIDDEN, "no hello from this connection")
        given = (header.get("args") or {}).get("secret")
        if header.get("op") != "hello" or not isinstance(given, str) \
                or not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("warehouse owner socket: refused a connection with a wrong secret")
            return FerryError(errors.FORBIDDEN, "wrong or missing secret for the warehouse owner's socket")
        return None

    # -- operations -----------------------------------------------------------------------------------------------

    def answer(self, header: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        """The reply to one request: `{"ok": true, "result": …}` or `{"ok": false, "error": …}`."""
        op = str(header.get("op"))
        args = header.get("args") or {}
        handler = getattr(self, f"_op_{op}", None)
        try:
            if handler is None:
                raise FerryError(errors.BAD_REQUEST, f"the warehouse owner has no operation {op!r}")
            return {"ok": True, "result": handler(args, blob)}
        except FerryError as exc:
            return {"ok": False, "error": encode_error(exc)}
        except Exception as exc:  # an engine error or a bug: its type and message go back, not a traceback
            log.warning("warehouse owner: %s failed: %s: %s", op, type(exc).__name__, exc)
            return {"ok": False, "error": encode_error(exc)}

    def _op_ping(self, args: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        return {"pid": os.getpid()}

    def _op_health(self, args: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        state = self.runtime.parts.state("warehouse")
        return {"status": state.status, "reason": state.reason}

    def _op_select(self, args: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        from ferry.server.api.queries import evaluation_error

        params = [decode_value(p) for p in args.get("params") or []]
        try:
            rows = self.runtime.warehouse.select(str(args["sql"]), params)
        except FerryError:
            raise
        except Exception as exc:
            # A value the engine could not compute is the caller's FRY-7 refusal, as in a single process.
            refused = evaluation_error(exc)
            if refused is None:
                raise
            raise refused from None
        return {"rows": encode_rows(rows)}

    def _op_ensure_table(self, args: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        self.runtime.warehouse.ensure_table(self._schema(args))
        return {}

    def _op_identity(self, args: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        identity = self.runtime.warehouse.identity()
        return {"engine": identity.engine, "stable_id": identity.stable_id, "display": identity.display}

    def _op_batch_applied(self, args: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        outcome = self.runtime.warehouse.batch_applied(str(args["batch_id"]))
        return {"outcome": None if outcome is None else encode_outcome(outcome)}

    def _op_apply_atomic(self, args: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        """A dry run (`commit` false) returns the outcome; a commit applies only when the outcome equals `expect`,
        else rolls back and returns the outcome it found (`committed` false)."""
        if blob is None:
            raise FerryError(errors.BAD_REQUEST, "apply_atomic needs the batch")
        schema = self._schema(args)
        batch = table_from_ipc(blob)
        expected = decode_outcome(args["expect"]) if args.get("expect") else None
        commit = bool(args.get("commit"))

        def accept(outcome: BatchOutcome) -> None:
            if not commit or expected is None or not same_outcome(outcome, expected):
                raise _Found(outcome)

        try:
            outcome = self.runtime.warehouse.apply_atomic(schema, str(args["batch_id"]), batch, accept)
        except _Found as found:
            return {"outcome": encode_outcome(found.outcome), "committed": False}
        return {"outcome": encode_outcome(outcome), "committed": True}

    def _op_take_sync_requests(self, args: dict[str, Any], blob: bytes | None) -> dict[str, Any]:
        # The scheduler's loop takes them every second anyway; this makes a worker's sync start at once.
        self.runtime.sync.scheduler.take_requests()
        return {}

    def _schema(self, args: dict[str, Any]) -> Schema:
        """The schema a worker names, reloaded from staging when this process does not know that version yet."""
        schema_id, attributes = str(args["schema"]), tuple(args.get("attributes") or ())
        schema: Schema | None = self.runtime.registry.get(schema_id)
        if schema is None or tuple(schema.attribute_names) != attributes:
            self.runtime.db.reload_schemas()
            schema = self.runtime.registry.get(schema_id)
        if schema is None:
            raise FerryError(errors.UNKNOWN_SCHEMA, f"the warehouse owner does not know schema {schema_id}")
        if tuple(schema.attribute_names) != attributes:
            raise FerryError(errors.INCOMPATIBLE_CHANGE, f"schema {schema_id} differs between this worker and the "
                             "warehouse owner (applied meanwhile?): retry")
        return schema


class _Found(Exception):  # the dry run's way out of the transaction
    """Raised by the owner's `accept` to roll back with the outcome in hand."""

    def __init__(self, outcome: BatchOutcome) -> None:
        super().__init__("dry run")
        self.outcome = outcome


def _remove_stale(folder: Path) -> None:
    """Remove the sockets owners that died left in `folder` (named by their PID; this PID's is stale too)."""
    for path in folder.glob("warehouse-*.sock"):
        pid = path.stem.removeprefix("warehouse-")
        if not pid.isdigit():
            continue
        if int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
                continue  # alive: another server's (an in-memory warehouse takes no data folder lock)
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        with contextlib.suppress(OSError):
            path.unlink()


def peer_uid(sock: socket.socket) -> int | None:
    """The connected peer's uid (Linux SO_PEERCRED), or None where the platform does not tell."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)
