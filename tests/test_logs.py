"""FERRY_LOG_JSON: one JSON object a line, with the context of the call or run that logged it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading

from ferry.logs import JsonFormatter, log_context


def _line(record: logging.LogRecord) -> dict[str, object]:
    text = JsonFormatter().format(record)
    assert "\n" not in text
    parsed: dict[str, object] = json.loads(text)
    return parsed


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("ferry.sync.workflow", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_line_has_time_level_logger_message_and_the_context() -> None:
    with log_context(request_id="r-1", operator="admin", schema="nms:recipient", run_id=None):
        line = _line(_record("sync %s: %s", "nms:recipient", "FRY-500001 down"))
    assert line["level"] == "warning" and line["logger"] == "ferry.sync.workflow"
    assert line["message"] == "sync nms:recipient: FRY-500001 down"
    assert str(line["time"]).endswith("+00:00")
    assert (line["request_id"], line["operator"], line["schema"]) == ("r-1", "admin", "nms:recipient")
    assert "run_id" not in line  # only the fields that exist


def test_the_context_ends_with_its_block_and_stays_in_its_thread() -> None:
    seen: list[dict[str, object]] = []
    with log_context(run_id="run-1"):
        worker = threading.Thread(target=lambda: seen.append(_line(_record("elsewhere"))))
        worker.start()
        worker.join()
        inside = _line(_record("inside"))
    assert inside["run_id"] == "run-1" and "run_id" not in seen[0]
    assert "run_id" not in _line(_record("after"))


def test_an_exception_is_one_field_of_the_same_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("ferry", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = _line(record)
    assert "ValueError: boom" in str(line["exception"])


def test_the_cli_logs_json_lines_when_ferry_log_json_is_set() -> None:
    code = ("import logging, ferry.cli.main as m; m.configure_logging(); "
            "logging.getLogger('ferry.x').warning('hi %s', 1)")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "FERRY_LOG_JSON": "1"},
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stderr)["message"] == "hi 1"
    plain = subprocess.run([sys.executable, "-c", code], env={**os.environ, "FERRY_LOG_JSON": ""},
                           capture_output=True, text=True, check=True)
    assert plain.stderr.rstrip().endswith("WARNING ferry.x: hi 1")
