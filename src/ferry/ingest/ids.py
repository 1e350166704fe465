"""Random (version 4) UUIDs drawn in bulk: one `os.urandom` per many ids instead of one per id.

Each id is a `uuid.UUID` equal in every way to one from `uuid.uuid4()` (same randomness source, version and variant
bits); only the cost differs.
"""

from __future__ import annotations

import os
import threading
import uuid

_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4 = (0x4000 << 64) | (0x8000 << 48)
_POOL = 256
_new = object.__new__
_set = object.__setattr__
_unknown = uuid.SafeUUID.unknown


def _build(raw: bytes, count: int) -> list[uuid.UUID]:
    ids = []
    from_bytes = int.from_bytes
    for start in range(0, 16 * count, 16):
        # What uuid.UUID(bytes=..., version=4) does, without its argument checks.
        item = _new(uuid.UUID)
        _set(item, "int", (from_bytes(raw[start:start + 16], "big") & _CLEAR) | _V4)
        _set(item, "is_safe", _unknown)
        ids.append(item)
    return ids


def uuid4s(count: int) -> list[uuid.UUID]:
    """`count` new random UUIDs."""
    return _build(os.urandom(16 * count), count) if count > 0 else []


class _Pool(threading.local):
    def __init__(self) -> None:
        self.ids: list[uuid.UUID] = []


_pool = _Pool()


def _forget_after_fork() -> None:
    # A forked child must never hand out ids its parent drew: start it with an empty pool.
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_forget_after_fork)


def uuid4() -> uuid.UUID:
    """One new random UUID, from a per-thread pool refilled `_POOL` at a time."""
    ids = _pool.ids
    if not ids:
        ids.extend(uuid4s(_POOL))
    return ids.pop()
