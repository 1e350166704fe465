"""What a run of a script gives back: its log lines and its outcome."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ferry.errors import FerryError
from ferry.scripts.frames import MAX_LOG_CHARS, cut_message

__all__ = ["MAX_KEPT_LINES", "MAX_MESSAGE_CHARS", "LogLine", "ScriptResult", "cut_message", "storable"]

Outcome = Literal["succeeded", "failed", "timed_out"]
Level = Literal["info", "warning", "error"]
T = TypeVar("T")

MAX_MESSAGE_CHARS = MAX_LOG_CHARS
MAX_KEPT_LINES = 10_000  # log lines a result keeps in memory; the rest are only counted (and streamed)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: T) -> T:
    """`value` with each NUL and lone surrogate in its strings (in lists and dicts too) replaced by U+FFFD:
    PostgreSQL refuses both in text and jsonb, and would refuse the whole record of a run."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value  # type: ignore[return-value]
    if isinstance(value, list | tuple):
        return type(value)(storable(item) for item in value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}  # type: ignore[return-value]
    return value


@dataclass(frozen=True)
class LogLine:
    """One `logInfo` / `logWarning` / `logError` of a script, stamped when the parent received it (UTC)."""

    time: dt.datetime
    level: Level
    message: str


@dataclass
class ScriptResult:
    """The outcome of one run; `line` / `column` (1-based, in the original script) locate `error` when known.

    `request_ids` are the staging calls the run made, in order, each marked with `run_id` (the id that lists them
    all at /api/v1/requests/{id}); `instance_vars` is `instance.vars` at the end
    (the input's when the run failed before it could be read); `script_hash` is the SHA-256 of the source run.
    """

    outcome: Outcome
    error: FerryError | None
    line: int | None
    column: int | None
    logs: list[LogLine] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    instance_vars: dict[str, Any] = field(default_factory=dict)
    script_hash: str = ""
    filename: str = ""
    # The run's id (a workflow run's, a relayed request's, or a fresh one): its staged calls carry it as run_id.
    run_id: str | None = None
    logs_dropped: int = 0  # log lines past MAX_KEPT_LINES, not kept in `logs`

    def keep_log(self, line: LogLine) -> None:
        """Keep `line` (its message cut to MAX_MESSAGE_CHARS), or count it once MAX_KEPT_LINES are kept."""
        if len(self.logs) >= MAX_KEPT_LINES:
            self.logs_dropped += 1
            return
        if len(line.message) > MAX_MESSAGE_CHARS:
            line = LogLine(line.time, line.level, cut_message(line.message))
        self.logs.append(line)

    @property
    def location(self) -> str:
        """`file:line:column` of the error (as far as known)."""
        where = self.filename
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where
