"""What a run of a script gives back: its log lines and its outcome."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from ferry.errors import FerryError

Outcome = Literal["succeeded", "failed", "timed_out"]
Level = Literal["info", "warning", "error"]


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

    @property
    def location(self) -> str:
        """`file:line:column` of the error (as far as known)."""
        where = self.filename
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where
