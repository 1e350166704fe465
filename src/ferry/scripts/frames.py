"""The pipe between the parent and the engine's worker: length-prefixed JSON messages (4-byte big-endian size).

Both ends read and write the pipe's descriptors directly (no buffered stream: one system call per frame). A
relayed call's arguments are the JSON text the script's shim made, wrapped as they are (`call_frame`), and its
answer is handed to the shim as the parent wrote it: the worker neither decodes nor re-encodes a call.
"""

from __future__ import annotations

import _json  # `json`'s C half: `json` itself imports `re`, ~8 of a fresh worker's ~25 ms of start
import os

TYPE_CHECKING = False  # not `typing`'s: the worker imports this module and starts faster without `typing`
if TYPE_CHECKING:
    from typing import Any

MAX_MESSAGE = 256 << 20  # one document or result, bytes
MAX_LOG_CHARS = 4000  # one log message is cut here (in the worker, before it crosses the pipe)
_READ_SIZE = 1 << 16
CALL_END = b',"t":"call"}'


def cut_message(message: str, limit: int = MAX_LOG_CHARS) -> str:
    """`message`, cut at `limit` characters and marked so when longer."""
    if len(message) <= limit:
        return message
    return message[:limit] + f"… ({len(message) - limit} more characters)"


class PipeClosed(Exception):
    """The other end closed the pipe (or sent a frame too large to be ours)."""


def _unencodable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


class _Reading:
    """The settings `_json`'s scanner reads (those of `json.loads` without arguments)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)


_scan = _json.make_scanner(_Reading())  # type: ignore[arg-type]  # typeshed wants a scanner: any context does
# (markers, default, encode a string, indent, key separator, item separator, sort_keys, skipkeys, allow_nan)
_text = _json.make_encoder(None, _unencodable, _json.encode_basestring, None, ":", ",", False, False, True)
_ascii = _json.make_encoder(None, _unencodable, _json.encode_basestring_ascii, None, ":", ",", False, False, True)


def loads(text: str | bytes) -> Any:
    """`json.loads` of a JSON text without surrounding white space (what JSON.stringify and `dumps` write)."""
    if not isinstance(text, str):
        text = text.decode("utf-8")
    try:
        value, end = _scan(text, 0)
    except StopIteration as exc:
        raise ValueError(f"not a JSON text (at character {exc.value})") from None
    if end != len(text):
        raise ValueError(f"not one JSON text (more after character {end})")
    return value


def dumps(value: Any, ascii: bool = True) -> str:
    """`json.dumps(value, separators=(",", ":"), ensure_ascii=ascii)`; `value` holds no cycle (JSON data)."""
    return "".join((_ascii if ascii else _text)(value, 0))


def encode(message: dict[str, Any]) -> bytes:
    """One message as a frame."""
    return frame(dumps(message, ascii=False).encode("utf-8"))


def frame(body: bytes) -> bytes:
    """`body` (a JSON text) behind its size."""
    return len(body).to_bytes(4, "big") + body


def call_frame(arguments: str) -> bytes:
    """The `call` message for `arguments`, a JSON object's text as the shim wrote it (not decoded here: the parent
    decodes it once). `t` comes last, so whatever the text holds, the parent reads a call (the last of duplicate
    keys wins); a text that is not one JSON value makes the frame undecodable, which the parent refuses."""
    return frame(b'{"a":' + arguments.encode("utf-8") + CALL_END)


def write(descriptor: int, data: bytes) -> None:
    """Write all of `data` (a write to a pipe may be cut short by a signal)."""
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def send(descriptor: int, message: dict[str, Any]) -> None:
    """Write one message."""
    write(descriptor, encode(message))


class Reader:
    """Frames read from a pipe's descriptor, blocking."""

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor
        self.buffer = bytearray()

    def body(self) -> bytes:
        """The next frame's body (its JSON text); PipeClosed at the end of the stream."""
        buffer = self.buffer
        while True:
            if len(buffer) >= 4:
                size = int.from_bytes(buffer[:4], "big")
                if size > MAX_MESSAGE:
                    raise PipeClosed(f"message of {size} bytes is larger than {MAX_MESSAGE}")
                end = 4 + size
                if len(buffer) >= end:
                    body = bytes(buffer[4:end])
                    del buffer[:end]
                    return body
            chunk = os.read(self.descriptor, _READ_SIZE)
            if not chunk:
                raise PipeClosed("the pipe closed")
            buffer += chunk

    def message(self) -> dict[str, Any]:
        """The next message, decoded."""
        message: dict[str, Any] = loads(self.body())
        return message
