"""`run_script`: one script in a killable worker process, its JSAPI calls served here by a `ScriptApi`.

The time limit is the parent's: when it passes, the worker is killed (whatever it is doing — a loop, a
catastrophic regex, a script catching every exception). The memory limit is QuickJS's own heap limit, with an
address-space ceiling on the worker as a backstop. Blocking: the server calls it from a thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ferry import errors
from ferry.errors import Code, FerryError
from ferry.scripts import frames
from ferry.scripts.results import Level, LogLine, ScriptResult
from ferry.scripts.sources import translator

DEFAULT_TIME_LIMIT = 900.0  # seconds (15 minutes, as a Campaign workflow activity's default)
DEFAULT_MEMORY_LIMIT = 256 << 20  # bytes of JavaScript heap
_LEVELS: dict[str, Level] = {"info": "info", "warning": "warning", "error": "error"}
_STDERR_KEPT = 4096
_STOP_POLL_SECONDS = 0.2  # how soon a run notices its `stop` event


class ApiServer:
    """What the runner needs of a `ScriptApi`: serve one relayed call (raise FerryError to refuse it)."""

    def serve(self, op: str, args: dict[str, Any]) -> Any:  # pragma: no cover - a protocol
        raise NotImplementedError


def run_script(source: str, *, filename: str, api: Any, vars: Mapping[str, str] | None = None,
               instance_vars: Mapping[str, Any] | None = None, time_limit: float = DEFAULT_TIME_LIMIT,
               memory_limit: int = DEFAULT_MEMORY_LIMIT, on_log: Callable[[LogLine], None] | None = None,
               request_id: str | None = None, stop: threading.Event | None = None) -> ScriptResult:
    """Run `source` to its end, its failure, or its time limit; `api` (a `ferry.scripts.ScriptApi`) serves the
    JSAPI for one operator. `request_id` names the run in the calls it stages (see `ScriptApi.run_id`); setting
    `stop` kills the worker like the time limit does (an operator's Stop), the run ending `failed`."""
    result = ScriptResult("failed", None, None, None, instance_vars=dict(instance_vars or {}),
                          script_hash=hashlib.sha256(source.encode("utf-8")).hexdigest(), filename=filename)
    if hasattr(api, "run_id"):
        # Every run has an id its staged calls carry (a workflow's run record id, a relayed script's request id,
        # else a fresh one): `/api/v1/requests/{run id}` then shows what the run staged.
        api.run_id = request_id or api.run_id or str(uuid.uuid4())
        result.run_id = api.run_id
    # The worker first: a fresh one starts its interpreter and evaluates the prelude while this thread translates.
    worker = _Worker.take()
    translations = Translations(_cache_folder(api))
    try:
        code = translations.translate(source, filename)
    except FerryError as exc:  # a syntax error: nothing to run
        result.error = exc
        result.line, result.column = _position_in(exc.message, filename)
        _Worker.give_back(worker)
        return result
    try:
        worker.send({"t": "start", "code": code, "filename": filename, "vars": dict(vars or {}),
                     "instance_vars": dict(instance_vars or {}), "memory_limit": int(memory_limit)})
        deadline = time.monotonic() + time_limit
        _serve(worker, _Translating(api, translations), result, deadline, time_limit, on_log, translations, stop)
    finally:
        worker.stop()
        _refill_soon()  # the next run's worker
    return result


class Translations:
    """The E4X translations of one run's script and libraries, by file name, to map positions back; kept on disk
    under `cache_folder` (the data folder) when given, so another process running the same text skips them."""

    def __init__(self, cache_folder: Path | None = None) -> None:
        self.translate_fn, _ = translator()
        self.by_name: dict[str, Any] = {}
        self.cache: Any = None
        if cache_folder is not None:
            with contextlib.suppress(ImportError):
                from ferry.scripts.e4x import cache

                self.cache = cache
        self.cache_folder = cache_folder

    def translate(self, source: str, filename: str) -> str:
        """The standard JavaScript for `source` (a syntax error raises FerryError naming file:line:col)."""
        translation = _remembered.get(source)
        if translation is None and self.cache is not None:
            translation = self.cache.load(self.cache_folder, source)
        if translation is None:
            try:
                translation = self.translate_fn(source, filename)
            except RecursionError as exc:  # nesting (XML, brackets) deeper than the translator's recursion allows
                line, column = _where_deepest(exc)
                raise FerryError(errors.SCRIPT_SYNTAX, f"{filename}:{line}:{column}: the script nests too deeply to "
                                 "be translated (hundreds of levels of XML or brackets)") from None
            if self.cache is not None:
                self.cache.store(self.cache_folder, source, translation)
        _remember(source, translation)
        self.by_name[filename] = translation
        return str(translation.code)

    def original(self, filename: str, line: int, column: int) -> tuple[int, int]:
        """A position in the translated code of `filename`, in its original source."""
        translation = self.by_name.get(filename)
        if translation is None:
            return line, column
        found = translation.original_position(line, column)
        return int(found[0]), int(found[1])


# The last translations this process made or read (a server's scheduled workflows run the same texts again).
_remembered: dict[str, Any] = {}
_REMEMBERED = 64
_remembered_lock = threading.Lock()


def _remember(source: str, translation: Any) -> None:
    with _remembered_lock:
        _remembered.pop(source, None)
        _remembered[source] = translation
        while len(_remembered) > _REMEMBERED:
            del _remembered[next(iter(_remembered))]


def _cache_folder(api: Any) -> Path | None:
    """The data folder of the run's settings, where translations are kept (None: not kept)."""
    folder = getattr(getattr(api, "settings", None), "data_dir", None)
    return Path(folder) if isinstance(folder, (str, os.PathLike)) else None


def _where_deepest(exc: BaseException) -> tuple[int, int]:
    """Where the translator was when it ran out of recursion: its lexer's position (1:1 if none is found)."""
    tb, found = exc.__traceback__, (1, 1)
    while tb is not None:
        lexer: Any = tb.tb_frame.f_locals.get("self")
        line, col = getattr(lexer, "line", None), getattr(lexer, "col", None)
        if isinstance(line, int) and callable(col):
            found = (line, int(col()))
        tb = tb.tb_next
    return found


class _Translating:
    """The run's API, with `loadLibrary`'s text translated here (the worker only evaluates code)."""

    def __init__(self, api: Any, translations: Translations) -> None:
        self.api = api
        self.translations = translations

    def serve(self, op: str, args: dict[str, Any]) -> Any:
        value = self.api.serve(op, args)
        if op == "library":
            return self.translations.translate(str(value), str(args.get("name")))
        return value

    def take_request_ids(self) -> list[str]:
        taken = getattr(self.api, "take_request_ids", None)
        return list(taken()) if taken is not None else []


def _position_in(message: str, filename: str) -> tuple[int | None, int | None]:
    found = re.search(re.escape(filename) + r":(\d+):(\d+)", message)
    return (int(found.group(1)), int(found.group(2))) if found else (None, None)


def _serve(worker: _Worker, api: Any, result: ScriptResult, deadline: float, time_limit: float,
           on_log: Callable[[LogLine], None] | None, translations: Translations,
           stop: threading.Event | None = None) -> None:
    while True:
        remaining = deadline - time.monotonic()
        message = worker.next(remaining if stop is None else min(remaining, _STOP_POLL_SECONDS))
        if stop is not None and stop.is_set():
            result.error = FerryError(errors.WORKFLOW_STOPPED, "the run was stopped by an operator")
            return
        if message is _TIMEOUT and time.monotonic() < deadline:
            continue
        if message is _TIMEOUT:
            result.outcome = "timed_out"
            result.error = FerryError(errors.SCRIPT_TIMEOUT, f"the script ran past its time limit of {time_limit:g} s "
                                      "and was stopped (an endless loop, a runaway regular expression, or too much "
                                      "work for one run; --time-limit raises it)")
            return
        if message is None:
            worker.wait_exit()
            result.error = FerryError(errors.SCRIPT_ENGINE, f"the script's engine ended unexpectedly (exit status "
                                      f"{worker.returncode}){worker.stderr_tail()}")
            return
        assert isinstance(message, dict)
        kind = message.get("t")
        if kind == "call":
            worker.send(_answer(api, result, message.get("a"), message.get("refused")))
        elif kind == "log":
            line = LogLine(dt.datetime.now(dt.UTC), _LEVELS.get(str(message.get("level")), "info"),
                           str(message.get("message")))
            result.keep_log(line)
            if on_log is not None:
                on_log(line)
        elif kind == "done":
            _finish(result, message, translations)
            return


def _utf8(value: Any) -> bool:
    """Whether `value` (decoded JSON) holds only text UTF-8 can carry."""
    try:
        frames.dumps(value, ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _answer(api: Any, result: ScriptResult, args: Any, refused: str | None = None) -> dict[str, Any]:
    if refused is not None or not isinstance(args, dict):
        error = FerryError(errors.SCRIPT_ENGINE, refused or "the call's arguments did not reach ferry as a JSON "
                           "object (was JSON.stringify replaced?)")
        return {"error": {"code": error.code.code, "text": error.text}}
    op = str(args.pop("op", ""))
    try:
        value = api.serve(op, args)
    except FerryError as exc:
        return {"error": {"code": exc.code.code, "text": exc.text}}
    except Exception as exc:  # a bug or an outage below: the script sees a coded error, the run goes on
        error = FerryError(errors.SERVER_INTERNAL, f"the call failed inside ferry ({type(exc).__name__}: {exc})")
        return {"error": {"code": error.code.code, "text": error.text}}
    staged = getattr(api, "take_request_ids", None)
    if staged is not None:
        result.request_ids.extend(staged())
    return {"ok": value}


def _finish(result: ScriptResult, message: dict[str, Any], translations: Translations) -> None:
    if isinstance(message.get("instance_vars"), dict):
        result.instance_vars = message["instance_vars"]
    if message.get("outcome") == "succeeded":
        result.outcome = "succeeded"
        return
    error = message.get("error") or {}
    code = str(error.get("code") or errors.SCRIPT_ERROR.code)
    known = next((v for v in vars(errors).values() if isinstance(v, Code) and v.code == code), None)
    result.error = FerryError(known or Code(code, "error raised by the script"), str(error.get("message") or ""))
    line, column = message.get("line"), message.get("column")
    if message.get("file"):
        result.filename = str(message["file"])
    if isinstance(line, int):
        line, column = translations.original(result.filename, line, column if isinstance(column, int) else 1)
    result.line, result.column = line, column


# The worker's interpreter skips `site` (-S): its .pth files, sitecustomize and `_distutils_hack` are a good part
# of a fresh worker's start, and the worker needs no more than the folders holding ferry and the engine, which it
# is given (after the standard library's, as `site` would add them). `runpy` (-m) is skipped too.
_BOOT = "import sys\nsys.path += sys.argv[2:]\ndel sys.argv[2:]\nfrom ferry.scripts.worker import main\nmain()\n"
_worker_paths: list[str] | None = None


def worker_command(parent: int) -> list[str]:
    """The command starting a worker for the process `parent`: an isolated interpreter without `site`, given the
    folders ferry and its engine are imported from (`python -I -m ferry.scripts.worker` when they are not found)."""
    global _worker_paths
    if _worker_paths is None:
        _worker_paths = _import_folders()
    if not _worker_paths:
        return [sys.executable, "-I", "-m", "ferry.scripts.worker", str(parent)]
    return [sys.executable, "-I", "-S", "-c", _BOOT, str(parent), *_worker_paths]


def _import_folders() -> list[str]:
    """The sys.path folders `ferry` and `_quickjs` come from here ([] when one is not a plain file on disk)."""
    import importlib.util

    import ferry

    folders: list[str] = []
    package = getattr(ferry, "__file__", None)
    engine = importlib.util.find_spec("_quickjs")
    for found in (os.path.dirname(os.path.dirname(package)) if package else None,
                  os.path.dirname(engine.origin) if engine is not None and engine.origin else None):
        if found is None or not os.path.isdir(found):
            return []
        if found not in folders:
            folders.append(found)
    return folders


_TIMEOUT = object()
_spare_lock = threading.Lock()
_spare: _Worker | None = None
_keep_warm = False


def keep_warm(enabled: bool = True) -> None:
    """Keep one worker started ahead of time, so a run starts without waiting for an interpreter (a server that
    runs many scripts wants it; a one-off `ferry js` does not)."""
    global _keep_warm, _spare
    with _spare_lock:
        _keep_warm = enabled
        spare, _spare = (_spare, None) if not enabled else (None, _spare)
    if spare is not None:
        spare.stop()
    if enabled:
        _refill()


_spawner_wake = threading.Event()
_spawner: threading.Thread | None = None


def _refill_soon() -> None:
    """Start the spare worker on a thread that lives as long as the process (a worker dies with the thread that
    started it): the run ends without waiting for an interpreter to be forked."""
    global _spawner
    with _spare_lock:
        if not _keep_warm or _spare is not None:
            return
        if _spawner is None:
            _spawner = threading.Thread(target=_spawn_forever, name="ferry-script-spawner", daemon=True)
            _spawner.start()
    _spawner_wake.set()


def _spawn_forever() -> None:
    while True:
        _spawner_wake.wait()
        _spawner_wake.clear()
        with contextlib.suppress(Exception):  # fork refused: the next run starts its own worker
            _refill()


def _refill() -> None:
    global _spare
    with _spare_lock:
        if not _keep_warm or _spare is not None:
            return
        _spare = _Worker.start()


class _Worker:
    """The worker process; its messages are read on the calling thread, waiting with select() so a wait can time
    out (no reader thread: a hand-off between threads per call costs more than the call on a busy machine)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        assert process.stdout is not None and process.stdin is not None
        self._out = process.stdout.fileno()
        self._in = process.stdin.fileno()  # written directly, one system call per message (never through the stream)
        self._buffer = bytearray()
        self._stderr = bytearray()
        threading.Thread(target=self._read_stderr, name="ferry-script-stderr", daemon=True).start()

    @classmethod
    def take(cls) -> _Worker:
        """The spare worker when one is ready (the run started another behind it as it ended), else a new one."""
        global _spare
        with _spare_lock:
            spare, _spare = _spare, None
        if spare is not None and spare.process.poll() is None:
            return spare
        if spare is not None:
            spare.stop()
        return cls.start()

    @staticmethod
    def give_back(worker: _Worker) -> None:
        """A worker the run did not use: the spare one if a spare is wanted and missing, else stopped."""
        global _spare
        with _spare_lock:
            keep = _keep_warm and _spare is None and worker.process.poll() is None
            if keep:
                _spare = worker
        if not keep:
            worker.stop()

    @classmethod
    def start(cls) -> _Worker:
        """A fresh worker: isolated interpreter, empty environment, its own session; it dies with this process."""
        process = subprocess.Popen(worker_command(os.getpid()), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env={}, cwd=os.sep, close_fds=True, start_new_session=True)
        return cls(process)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        descriptor = self.process.stderr.fileno()
        with contextlib.suppress(OSError, ValueError):
            for chunk in iter(lambda: os.read(descriptor, 4096), b""):
                self._stderr += chunk
                del self._stderr[:-_STDERR_KEPT]

    def send(self, message: dict[str, Any]) -> None:
        """A message to the worker (ignored when it is gone: its end is reported by `next`)."""
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError, ValueError):
            frames.send(self._in, message)

    def next(self, timeout: float) -> dict[str, Any] | object | None:
        """The next message, None when the worker ended, `_TIMEOUT` when `timeout` passed first."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            message = self._complete()
            if message is not None:
                return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _TIMEOUT
            ready, _, _ = select.select([self._out], [], [], remaining)
            if not ready:
                return _TIMEOUT
            try:
                chunk = os.read(self._out, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                return None
            self._buffer += chunk

    def _complete(self) -> dict[str, Any] | None:
        """A whole message from the buffer, if one arrived."""
        if len(self._buffer) < 4:
            return None
        size = int.from_bytes(self._buffer[:4], "big")
        if size > frames.MAX_MESSAGE:
            return {"t": "done", "outcome": "failed", "error": {"code": errors.SCRIPT_ENGINE.code,
                                                                "message": "the engine sent an oversized message"}}
        if len(self._buffer) < 4 + size:
            return None
        body = bytes(self._buffer[4:4 + size])
        del self._buffer[:4 + size]
        try:
            message = json.loads(body)
        except ValueError:
            # Only a call holds text the worker did not encode itself (the arguments as the shim wrote them, with
            # the script's JSON.stringify): answered with an error, as any call refused.
            message = {"t": "call", "a": None} if body.endswith(frames.CALL_END) else None
        if not isinstance(message, dict):
            return {"t": "done", "outcome": "failed", "error": {"code": errors.SCRIPT_ENGINE.code,
                                                                "message": "the engine sent a malformed message"}}
        if (b"\\ud" in body or b"\\uD" in body) and message.get("t") == "call" and not _utf8(message.get("a")):
            # JSON.stringify escapes a lone UTF-16 surrogate, and JSON decodes it back: no text ferry stages
            # can hold it (refused as before, when the worker's re-encoding of the call failed on it).
            return {"t": "call", "a": None, "refused": "the call holds a lone UTF-16 surrogate (half of a character "
                    "written as \\uD800-\\uDFFF), which is not text"}
        return message

    @property
    def returncode(self) -> int | None:
        """The exit status once ended."""
        return self.process.returncode

    def wait_exit(self) -> None:
        """Give a worker whose pipe closed a moment to exit, so its status is known."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2.0)

    def stderr_tail(self) -> str:
        """The end of what the worker wrote on stderr, for the error message."""
        text = bytes(self._stderr).decode("utf-8", "replace").strip()
        return f": {text.splitlines()[-1][:300]}" if text else ""

    def stop(self) -> None:
        """Kill the worker if it still runs; it is reaped here when already gone, else by a short-lived thread
        (the run's result does not wait for the kernel to tear a process down)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self.process.poll() is None:
            threading.Thread(target=self._reap, name="ferry-script-reaper", daemon=True).start()
        else:
            self._reap()

    def _reap(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5.0)
        if self.process.stderr is not None:
            with contextlib.suppress(OSError):
                self.process.stderr.close()
