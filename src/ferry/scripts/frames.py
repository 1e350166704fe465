"""The pipe between the parent and the engine's worker: length-prefixed JSON messages (4-byte big-endian size)."""

from __future__ import annotations

import json
import struct

TYPE_CHECKING = False  # not `typing`'s: the worker imports this module and starts faster without `typing`
if TYPE_CHECKING:
    from typing import IO, Any

MAX_MESSAGE = 256 << 20  # one document or result, bytes
MAX_LOG_CHARS = 4000  # one log message is cut here (in the worker, before it crosses the pipe)
_HEAD = struct.Struct(">I")


def cut_message(message: str, limit: int = MAX_LOG_CHARS) -> str:
    """`message`, cut at `limit` characters and marked so when longer."""
    if len(message) <= limit:
        return message
    return message[:limit] + f"… ({len(message) - limit} more characters)"


class PipeClosed(Exception):
    """The other end closed the pipe (or sent a frame too large to be ours)."""


def send(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Write one message and flush."""
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    stream.write(_HEAD.pack(len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> dict[str, Any]:
    """Read one message; PipeClosed at the end of the stream."""
    head = _read(stream, _HEAD.size)
    (size,) = _HEAD.unpack(head)
    if size > MAX_MESSAGE:
        raise PipeClosed(f"message of {size} bytes is larger than {MAX_MESSAGE}")
    message: dict[str, Any] = json.loads(_read(stream, size))
    return message


def _read(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) < size:
        raise PipeClosed("the pipe closed")
    return data
