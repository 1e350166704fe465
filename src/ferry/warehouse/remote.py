"""A warehouse another process of `ferry serve --workers N` owns (DuckDB: one process per file).

The owner (`ferry.server.process.owner_socket`) listens on a private Unix socket and runs a narrow set of operations for
the other processes: `select`, `ensure_table`, `identity`, `batch_applied`, `apply_atomic` (dry run, then a
commit only of the outcome the caller accepted), its warehouse health, and taking the sync requests left in
staging. Auth, rights and query compilation stay on the process that received the call: only SQL crosses.

Frames are a 4-byte big-endian length and a body; a message is a JSON header frame, then a binary frame when the
header says `blob` (an Arrow IPC stream). Values are tagged JSON (never pickle) so that every Python type
`DuckDBWarehouse.select` returns comes back as the same type and value.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import json
import math
import os
import queue
import socket
import struct
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ferry import errors
from ferry.errors import Code, FerryError
from ferry.schema.model import Schema
from ferry.warehouse.base import BatchOutcome, ErrorKind, Hook, Identity, Span, Transaction, Warehouse

# The environment of `--workers N`'s extra processes: the owner's socket and the secret it expects.
OWNER_SOCKET_ENV = "FERRY_WAREHOUSE_OWNER"
OWNER_SECRET_ENV = "FERRY_WAREHOUSE_OWNER_SECRET"
OWNER_PID_ENV = "FERRY_WORKER_OF"

MAX_FRAME = 1 << 30  # bytes; a frame announcing more is a broken or hostile peer
ATOMIC_ATTEMPTS = 3  # dry run / accept / commit rounds before giving up on a warehouse that keeps changing

_LENGTH = struct.Struct(">I")
_CODES: dict[str, Code] = {value.code: value for value in vars(errors).values() if isinstance(value, Code)}


# -- values -------------------------------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A JSON-ready form of `value`: None, bool, int, float (finite), str and lists as they are; anything else (and
    every dict) as a tagged object `{"$": tag, "v": …}`, so that decoding gives back the same type."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"$": "float", "v": repr(value)}
    if isinstance(value, decimal.Decimal):
        return {"$": "dec", "v": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$": "uuid", "v": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$": "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dt.datetime):  # before date: a datetime is a date
        return {"$": "dt", "v": value.replace(tzinfo=None).isoformat(), "tz": _encode_tz(value.tzinfo, value),
                "fold": value.fold}
    if isinstance(value, dt.date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$": "time", "v": value.replace(tzinfo=None).isoformat(), "tz": _encode_tz(value.tzinfo, None)}
    if isinstance(value, dt.timedelta):
        return {"$": "td", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, (list, tuple)):
        items = [encode_value(item) for item in value]
        return items if isinstance(value, list) else {"$": "tuple", "v": items}
    if isinstance(value, dict):
        return {"$": "map", "v": [[encode_value(k), encode_value(v)] for k, v in value.items()]}
    raise FerryError(errors.SERVER_INTERNAL, f"the warehouse returned a {type(value).__name__} value, which the "
                     "owner process cannot send to the other workers")


def _encode_tz(tz: dt.tzinfo | None, at: dt.datetime | None) -> Any:
    if tz is None:
        return None
    if isinstance(tz, zoneinfo.ZoneInfo):
        return {"zone": tz.key}
    offset = tz.utcoffset(at)
    if offset is None:
        return None
    return {"offset": [offset.days, offset.seconds, offset.microseconds]}


def _decode_tz(data: Any) -> dt.tzinfo | None:
    if data is None:
        return None
    if "zone" in data:
        return zoneinfo.ZoneInfo(str(data["zone"]))
    days, seconds, micros = data["offset"]
    offset = dt.timedelta(days=days, seconds=seconds, microseconds=micros)
    return dt.UTC if not offset else dt.timezone(offset)


def decode_value(data: Any) -> Any:
    """The value `encode_value` encoded."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_value(item) for item in data]
    tag, raw = data["$"], data.get("v")
    if tag == "float":
        return float(raw)
    if tag == "dec":
        return decimal.Decimal(raw)
    if tag == "uuid":
        return uuid.UUID(raw)
    if tag == "bytes":
        return base64.b64decode(raw)
    if tag == "dt":
        return dt.datetime.fromisoformat(raw).replace(tzinfo=_decode_tz(data.get("tz")), fold=int(data.get("fold", 0)))
    if tag == "date":
        return dt.date.fromisoformat(raw)
    if tag == "time":
        return dt.time.fromisoformat(raw).replace(tzinfo=_decode_tz(data.get("tz")))
    if tag == "td":
        return dt.timedelta(days=raw[0], seconds=raw[1], microseconds=raw[2])
    if tag == "tuple":
        return tuple(decode_value(item) for item in raw)
    if tag == "map":
        return {decode_value(k): decode_value(v) for k, v in raw}
    raise FerryError(errors.SERVER_INTERNAL, f"unknown value tag {tag!r} from the warehouse owner")


_PLAIN = frozenset({int, str, bool, float})
_SCALARS: dict[type, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    dt.date: ("date", dt.date.isoformat, dt.date.fromisoformat),
    decimal.Decimal: ("dec", str, decimal.Decimal),
    uuid.UUID: ("uuid", str, uuid.UUID),
}


def encode_column(values: Sequence[Any]) -> dict[str, Any]:
    """One result column: a whole column of plain JSON values, of dates, decimals, UUIDs or datetimes of one time
    zone goes as one list (a read of many rows costs little); any other column value by value."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= _PLAIN and (float not in kinds or all(math.isfinite(v) for v in values if type(v) is float)):
        return {"t": "json", "v": list(values)}
    if len(kinds) == 1:
        kind = next(iter(kinds))
        if kind in _SCALARS:
            tag, to_text, _ = _SCALARS[kind]
            return {"t": tag, "v": [None if v is None else to_text(v) for v in values]}
        if kind is dt.datetime:
            zones = {v.tzinfo for v in values if v is not None}
            zone = next(iter(zones))
            if len(zones) == 1 and (zone is None or isinstance(zone, (zoneinfo.ZoneInfo, dt.timezone))) \
                    and not any(v.fold for v in values if v is not None):
                sample = next(v for v in values if v is not None)
                return {"t": "dt", "tz": _encode_tz(zone, sample),
                        "v": [None if v is None else v.replace(tzinfo=None).isoformat() for v in values]}
    return {"t": "any", "v": [encode_value(v) for v in values]}


def decode_column(data: dict[str, Any]) -> list[Any]:
    """The values `encode_column` encoded."""
    tag, raw = data["t"], data["v"]
    if tag == "json":
        return list(raw)
    if tag == "any":
        return [decode_value(v) for v in raw]
    if tag == "dt":
        zone = _decode_tz(data.get("tz"))
        return [None if v is None else dt.datetime.fromisoformat(v).replace(tzinfo=zone) for v in raw]
    for kind_tag, _, from_text in _SCALARS.values():
        if kind_tag == tag:
            return [None if v is None else from_text(v) for v in raw]
    raise FerryError(errors.SERVER_INTERNAL, f"unknown column tag {tag!r} from the warehouse owner")


def encode_rows(rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Rows of `select` in their wire form (column by column)."""
    width = len(rows[0]) if rows else 0
    return {"count": len(rows), "columns": [encode_column([row[i] for row in rows]) for i in range(width)]}


def decode_rows(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows `encode_rows` encoded, as tuples (what the engines' `select` returns)."""
    columns = [decode_column(column) for column in data["columns"]]
    if not columns:
        return [() for _ in range(int(data["count"]))]
    return list(zip(*columns, strict=True))


# -- errors and outcomes ------------------------------------------------------------------------------------------


class OwnerUnreachable(FerryError):
    """The owner could not be reached or did not answer; `sent` when the request had fully left this process."""

    def __init__(self, code: Code, message: str, *, sent: bool) -> None:
        super().__init__(code, message)
        self.sent = sent


class RemoteError(Exception):
    """An error that was not a FerryError on the owner (an engine error, a bug): its type name and message."""


def encode_error(exc: BaseException) -> dict[str, Any]:
    """The wire form of an error raised on the owner."""
    if isinstance(exc, FerryError):
        return {"kind": "ferry", "code": exc.code.code, "title": exc.code.title, "message": exc.message,
                "position": exc.position, "attribute": exc.attribute, "detail": exc.detail}
    return {"kind": "other", "type": type(exc).__name__, "message": str(exc)}


def decode_error(data: dict[str, Any]) -> Exception:
    """The exception to raise for an error the owner sent: the same FerryError code object, or a RemoteError."""
    if data.get("kind") == "ferry":
        code = _CODES.get(str(data["code"])) or Code(str(data["code"]), str(data.get("title") or ""))
        return FerryError(code, str(data["message"]), position=data.get("position"),
                          attribute=data.get("attribute"), detail=data.get("detail"))
    return RemoteError(f"{data.get('type', 'Error')}: {data.get('message', '')}")


def error_from_text(text: str) -> FerryError:
    """A FerryError back from its `text` (`FRY-xxxxxx message`), as staging keeps a sync request's error."""
    head, _, message = text.partition(" ")
    code = _CODES.get(head)
    if code is None:
        return FerryError(errors.SYNC_FAILED, text)
    return FerryError(code, message)


def encode_outcome(outcome: BatchOutcome) -> dict[str, Any]:
    """A batch outcome's counts and exceptions (what `apply_atomic` compares and returns)."""
    return {"batch_id": outcome.batch_id, "counts": outcome.counts, "skipped": outcome.skipped,
            "failed": outcome.failed, "from_ledger": outcome.from_ledger}


def decode_outcome(data: dict[str, Any]) -> BatchOutcome:
    """The outcome `encode_outcome` encoded."""
    return BatchOutcome(str(data["batch_id"]), {str(k): int(v) for k, v in data["counts"].items()},
                        [(int(s), str(r)) for s, r in data["skipped"]], [(int(s), str(e)) for s, e in data["failed"]],
                        from_ledger=bool(data.get("from_ledger")))


def same_outcome(a: BatchOutcome, b: BatchOutcome) -> bool:
    """True when both outcomes did the same to every row (counts, skipped and failed rows)."""
    return (a.counts, list(map(tuple, a.skipped)), list(map(tuple, a.failed))) == \
        (b.counts, list(map(tuple, b.skipped)), list(map(tuple, b.failed)))


def table_to_ipc(table: pa.Table) -> bytes:
    """An Arrow table as an IPC stream (types and nulls kept as they are)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def table_from_ipc(data: bytes) -> pa.Table:
    """The table `table_to_ipc` wrote."""
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


# -- frames -------------------------------------------------------------------------------------------------------


def send_message(sock: socket.socket, header: dict[str, Any], blob: bytes | None = None) -> None:
    """One message: the JSON header, then the blob when there is one (the header says so)."""
    body = json.dumps({**header, "blob": blob is not None}, separators=(",", ":")).encode()
    parts = [_LENGTH.pack(len(body)), body]
    if blob is not None:
        parts += [_LENGTH.pack(len(blob)), blob]
    sock.sendall(b"".join(parts))


def recv_message(sock: socket.socket, limit: int = MAX_FRAME) -> tuple[dict[str, Any], bytes | None]:
    """The next message; ConnectionError when the peer closed, sent a frame over `limit` bytes or no JSON."""
    try:
        header = json.loads(_recv_frame(sock, limit))
    except ValueError:
        raise ConnectionError("malformed message header") from None
    if not isinstance(header, dict):
        raise ConnectionError("malformed message header")
    blob = _recv_frame(sock, limit) if header.get("blob") else None
    return header, blob


def _recv_frame(sock: socket.socket, limit: int) -> bytes:
    size = _LENGTH.unpack(_recv_exactly(sock, _LENGTH.size))[0]
    if size > limit:
        raise ConnectionError(f"a frame of {size} bytes is over the limit of {limit}")
    return _recv_exactly(sock, size)


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the peer closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# -- the client ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerLink:
    """Where a worker finds the process that owns the warehouse: its socket, the secret it expects, its PID."""

    path: str
    secret: str
    pid: int | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> OwnerLink | None:
        """The link `ferry serve --workers N` put in its extra processes' environment, or None."""
        env = os.environ if environ is None else environ
        path, secret = env.get(OWNER_SOCKET_ENV), env.get(OWNER_SECRET_ENV)
        if not path or not secret:
            return None
        pid = env.get(OWNER_PID_ENV, "")
        return cls(path, secret, int(pid) if pid.isdigit() else None)

    @property
    def who(self) -> str:
        """`the warehouse's owner process (PID n)`, for messages."""
        return f"the warehouse's owner process{f' (PID {self.pid})' if self.pid else ''}"


# Operations that only read: one retry on a fresh connection when a pooled one turned out dead.
_IDEMPOTENT = frozenset({"ping", "health", "select", "ensure_table", "identity", "batch_applied",
                         "take_sync_requests"})


class OwnerClient:
    """Pooled connections to the owner's socket, each authenticated once with the secret."""

    def __init__(self, link: OwnerLink, connect_timeout: float = 2.0) -> None:
        self.link = link
        self.connect_timeout = connect_timeout
        self._idle: queue.SimpleQueue[socket.socket] = queue.SimpleQueue()
        self._closed = False

    def call(self, op: str, args: dict[str, Any] | None = None, blob: bytes | None = None,
             timeout: float | None = 30.0) -> dict[str, Any]:
        """Run `op` on the owner and return its result; its error raised here; FRY-500001 when it is unreachable,
        FRY-500006 when it does not answer within `timeout` seconds (None: no bound)."""
        for attempt in (1, 2):
            reused, sock = self._connection()
            sent = False
            try:
                sock.settimeout(timeout)
                send_message(sock, {"op": op, "args": args or {}}, blob)
                sent = True
                reply, _ = recv_message(sock)
            except TimeoutError:
                sock.close()
                raise OwnerUnreachable(errors.WAREHOUSE_TIMEOUT, f"{self.link.who} did not answer {op} within "
                                       f"{timeout:g} s", sent=sent) from None
            except OSError as exc:  # ConnectionError included
                sock.close()
                if reused and attempt == 1 and op in _IDEMPOTENT:
                    continue
                raise OwnerUnreachable(errors.WAREHOUSE_UNAVAILABLE, f"{self.link.who} is not answering on "
                                       f"{self.link.path}: {exc.strerror or exc}", sent=sent) from None
            self._release(sock)
            if not reply.get("ok"):
                raise decode_error(reply.get("error") or {})
            result: dict[str, Any] = reply.get("result") or {}
            return result
        raise AssertionError("unreachable")

    def _connection(self) -> tuple[bool, socket.socket]:
        with contextlib.suppress(queue.Empty):
            return True, self._idle.get_nowait()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.connect_timeout)
            sock.connect(self.link.path)
            # The owner refuses a peer of another uid before its hello and closes: the refusal is still there to
            # read, and says more than the broken pipe.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                send_message(sock, {"op": "hello", "args": {"secret": self.link.secret}})
            reply, _ = recv_message(sock)
        except OSError as exc:
            sock.close()
            raise OwnerUnreachable(errors.WAREHOUSE_UNAVAILABLE, f"{self.link.who} is not answering on "
                                   f"{self.link.path}: {exc.strerror or exc}", sent=False) from None
        if not reply.get("ok"):
            sock.close()
            raise decode_error(reply.get("error") or {})
        return False, sock

    def _release(self, sock: socket.socket) -> None:
        if self._closed:
            sock.close()
        else:
            self._idle.put(sock)

    def close(self) -> None:
        """Close the idle connections (calls in flight close theirs when they end)."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class RemoteWarehouse(Warehouse):
    """The warehouse as the owner process serves it: reads, `ensure_table`, identity and `apply_atomic`.

    A worker never syncs: `apply_batch`, `truncate` and transactions are refused (FRY-500008)."""

    def __init__(self, url: str, link: OwnerLink, *, read_timeout: float = 30.0, statement_timeout: float = 900.0,
                 dialect: Any = "duckdb") -> None:
        self.url = url
        self.dialect = dialect
        self.link = link
        self.client = OwnerClient(link)
        self.read_timeout = read_timeout or None
        self.statement_timeout = statement_timeout or None

    def _refuse(self, what: str) -> FerryError:
        return FerryError(errors.WAREHOUSE_NOT_OPENED, f"{what} runs in {self.link.who} only: this worker does not "
                          "open the warehouse")

    def health(self) -> dict[str, Any]:
        """The owner's own warehouse part (`status`, `reason`), as its /healthz shows it."""
        return self.client.call("health", timeout=5.0)

    def select(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """See Warehouse: the query runs on the owner."""
        result = self.client.call("select", {"sql": sql, "params": [encode_value(p) for p in params]},
                                  timeout=_margin(self.read_timeout))
        return decode_rows(result["rows"])

    def ensure_table(self, schema: Schema) -> None:
        """See Warehouse (the owner reloads the schema from staging when it does not know this version yet)."""
        self.client.call("ensure_table", {"schema": schema.id, "attributes": list(schema.attribute_names)},
                         timeout=_margin(self.statement_timeout))

    def identity(self) -> Identity:
        """See Warehouse."""
        result = self.client.call("identity", timeout=_margin(self.read_timeout))
        return Identity(str(result["engine"]), str(result["stable_id"]), str(result["display"]))

    def batch_applied(self, batch_id: str) -> BatchOutcome | None:
        """See Warehouse."""
        result = self.client.call("batch_applied", {"batch_id": batch_id}, timeout=_margin(self.read_timeout))
        found = result.get("outcome")
        return None if found is None else decode_outcome(found)

    def apply_atomic(self, schema: Schema, batch_id: str, batch: pa.Table,
                     accept: Callable[[BatchOutcome], None]) -> BatchOutcome:
        """See Warehouse: a dry run on the owner, `accept` here, then a commit on the owner only if its outcome is
        still the accepted one (else `accept` sees the new one, a bounded number of times)."""
        blob = table_to_ipc(batch)
        args: dict[str, Any] = {"schema": schema.id, "attributes": list(schema.attribute_names),
                                "batch_id": batch_id}
        timeout = _margin(self.statement_timeout)
        expected = decode_outcome(self.client.call("apply_atomic", {**args, "commit": False}, blob,
                                                   timeout=timeout)["outcome"])
        for _ in range(ATOMIC_ATTEMPTS):
            accept(expected)
            try:
                result = self.client.call("apply_atomic", {**args, "commit": True,
                                                           "expect": encode_outcome(expected)}, blob, timeout=timeout)
            except OwnerUnreachable as exc:
                if not exc.sent:
                    raise  # the owner never had the whole request: nothing was written
                return self._in_doubt(batch_id, exc)
            outcome = decode_outcome(result["outcome"])
            if result.get("committed"):
                return outcome
            expected = outcome  # another write changed what this batch does: let `accept` judge the new outcome
        raise FerryError(errors.WAREHOUSE_UNAVAILABLE, f"the warehouse kept changing under this call "
                         f"({ATOMIC_ATTEMPTS} attempts); nothing was written: retry")

    def _in_doubt(self, batch_id: str, cause: FerryError) -> BatchOutcome:
        """The outcome of a commit whose answer was lost: the ledger's entry when it committed, else FRY-500006
        (it may still commit: the ledger keeps a second apply of the same batch id out)."""
        try:
            found = self.batch_applied(batch_id)
        except FerryError:
            found = None
        if found is not None:
            return found
        raise FerryError(errors.WAREHOUSE_TIMEOUT, f"the outcome of this call is unknown ({cause.message}): read the "
                         "record back before retrying")

    def apply_batch(self, schema: Schema, batch_id: str, batch: pa.Table, hook: Hook | None = None,
                    span: Span | None = None) -> BatchOutcome:
        """Refused: the sync runs in the owner process."""
        raise self._refuse("the sync")

    def read(self, schema: Schema) -> list[dict[str, Any]]:
        """Refused (tests and small tools read the warehouse in its own process)."""
        raise self._refuse("reading a whole table")

    def truncate(self, schema: Schema) -> None:
        """Refused."""
        raise self._refuse("emptying a table")

    def close(self) -> None:
        """Close the connections to the owner."""
        self.client.close()

    def _begin(self) -> Transaction:
        raise self._refuse("a warehouse transaction")

    def _classify(self, exc: BaseException) -> ErrorKind:
        return "outage" if isinstance(exc, OSError) else "other"


def _margin(timeout: float | None) -> float | None:
    # The owner bounds its own work; the socket waits a little longer so the owner's error arrives first.
    return None if timeout is None else timeout + 5.0
