"""The state of each part of a server (staging, warehouse), checked on its own thread and cached.

`/healthz` and `/metrics` read these states and never wait on a pooled connection: a check that has not answered
within `timeout` seconds makes its part `down` ("no answer within …") while it is still running.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

UP, DOWN, OFF, REFUSED, UNKNOWN = "up", "down", "off", "refused", "unknown"


class PartOff(Exception):
    """Raised by a check: the part is not used by this server (e.g. the warehouse under --role ingest)."""


class PartRefused(Exception):
    """Raised by a check: the part is reachable but refused for good (e.g. another warehouse than staging's)."""


@dataclass(frozen=True)
class PartState:
    """One part's last known state: `up`, `down`, `off`, `refused` or `unknown` (not checked yet), and why."""

    status: str
    reason: str | None
    checked_at: float | None
    since: float

    def to_json(self) -> dict[str, Any]:
        """The `/healthz` form (times as Unix seconds)."""
        return {"status": self.status, "reason": self.reason,
                "checkedAt": None if self.checked_at is None else round(self.checked_at, 3),
                "sinceSeconds": round(max(0.0, time.time() - self.since), 3)}


class _Part:
    def __init__(self, name: str, check: Callable[[], None], interval: float) -> None:
        self.name = name
        self.check = check
        self.interval = interval
        self.state = PartState(UNKNOWN, None, None, time.time())
        self.started: float | None = None  # monotonic start of the check in flight
        self.first = threading.Event()
        self.wake = threading.Event()


class PartMonitor:
    """Runs each part's check every `interval` seconds on a daemon thread; `state(name)` reads the cache."""

    def __init__(self, timeout: float = 1.0) -> None:
        self.timeout = timeout
        self._parts: dict[str, _Part] = {}
        self._stop = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        self.listeners: list[Callable[[str, PartState, PartState], None]] = []

    def add(self, name: str, check: Callable[[], None], interval: float = 0.5) -> None:
        """A part whose `check()` returns when it is up, raises PartOff / PartRefused / anything else (down)."""
        self._parts[name] = _Part(name, check, interval)

    def start(self) -> None:
        """Start the check threads (idempotent)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._stop.clear()
        for part in self._parts.values():
            threading.Thread(target=self._loop, args=(part,), name=f"ferry-check-{part.name}", daemon=True).start()

    def stop(self) -> None:
        """Stop checking (threads in a hung check end when it does)."""
        self._stop.set()
        for part in self._parts.values():
            part.wake.set()

    def recheck(self, name: str) -> None:
        """Check `name` now instead of at its next tick."""
        part = self._parts.get(name)
        if part is not None:
            part.wake.set()

    @property
    def started(self) -> bool:
        """True once the check threads run (reading a state before would start them)."""
        return self._started

    @property
    def names(self) -> list[str]:
        """The parts, in the order they were added."""
        return list(self._parts)

    def peek(self, name: str) -> PartState:
        """`state` without waiting for a first check (for the event loop)."""
        self.start()
        part = self._parts[name]
        if part.state.status == UNKNOWN:
            return part.state
        return self.state(name)

    def state(self, name: str) -> PartState:
        """The cached state; waits up to `timeout` for a first check; `down` when the check in flight is late."""
        self.start()
        part = self._parts[name]
        if part.state.status == UNKNOWN:
            part.first.wait(self.timeout)
        started = part.started
        if started is not None and time.monotonic() - started > self.timeout:
            late = f"no answer within {self.timeout:g} s"
            if part.state.status == DOWN and part.state.reason:
                late = part.state.reason if "no answer" in part.state.reason else f"{late} ({part.state.reason})"
            since = part.state.since if part.state.status == DOWN else time.time() - (time.monotonic() - started)
            return PartState(DOWN, late, part.state.checked_at, since)
        return part.state

    def _loop(self, part: _Part) -> None:
        while not self._stop.is_set():
            part.started = time.monotonic()
            status, reason = UP, None
            try:
                part.check()
            except PartOff as exc:
                status, reason = OFF, str(exc)
            except PartRefused as exc:
                status, reason = REFUSED, str(exc)
            except Exception as exc:  # any failure is the part being down, with its reason
                status, reason = DOWN, _reason(exc)
            part.started = None
            now = time.time()
            old = part.state
            since = old.since if old.status == status else now
            part.state = PartState(status, reason, now, since)
            part.first.set()
            if old.status != status:
                log.log(logging.WARNING if status in (DOWN, REFUSED) else logging.INFO, "%s is %s%s", part.name,
                        status, f": {reason}" if reason else "")
                for listener in self.listeners:
                    with contextlib.suppress(Exception):
                        listener(part.name, old, part.state)
            part.wake.wait(part.interval)
            part.wake.clear()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0].strip() if text else ""
    return first[:300] or type(exc).__name__
