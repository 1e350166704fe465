"""Log configuration: plain lines, or one JSON object a line (`FERRY_LOG_JSON=1`) with the context of the call or
run that logged it (request id, operator, schema, run id) taken from `log_context`."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# The context fields, as they appear in a JSON line; set by the server (a call) and the sync (a run).
CONTEXT_FIELDS = ("request_id", "operator", "schema", "run_id")
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("ferry_log_context", default={})  # noqa: B039

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` (None values left out) to every line logged inside the block, in this thread or task."""
    added = {name: str(value) for name, value in fields.items() if value is not None}
    token = _context.set({**_context.get(), **added})
    try:
        yield
    finally:
        _context.reset(token)


def set_log_context(**fields: object) -> None:
    """Add `fields` to the current context until it ends (an ASGI call's task, for instance)."""
    _context.set({**_context.get(), **{name: str(value) for name, value in fields.items() if value is not None}})


def current_context() -> dict[str, str]:
    """The context fields in force here."""
    return dict(_context.get())


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the context, then any `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_context.get())
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_") and name not in line:
                line[name] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def json_wanted(explicit: bool | None = None) -> bool:
    """`explicit` when given, else `FERRY_LOG_JSON` (1 / true / yes / on)."""
    if explicit is not None:
        return explicit
    return os.environ.get("FERRY_LOG_JSON", "").strip().lower() in ("1", "true", "yes", "on")


def configure_logging(*, as_json: bool | None = None, level: int | str = logging.WARNING) -> None:
    """One handler on stderr for every logger (uvicorn's included, which then propagate to it)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_wanted(as_json) else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        named = logging.getLogger(name)
        for old in list(named.handlers):
            named.removeHandler(old)
        named.propagate = True
