"""The engine's worker process: one QuickJS context running one script, relaying every JSAPI call to the parent.

The parent translates the script (and each library) from E4X; positions reported here are in the translated code
and the parent maps them back to the original.

Started by `ferry.scripts.runner` as `python -I -m ferry.scripts.worker` with an empty environment; it holds no
credential and no database connection. The parent enforces the time limit by killing this process. Messages
(`ferry.scripts.frames`): parent → worker `start`, then one reply per `call`; worker → parent `call`, `log`, `done`.
"""

from __future__ import annotations

import os
import sys

import _quickjs  # type: ignore[import-not-found]  # quickjs-ng's C module (its Python wrapper starts threads)

from ferry.scripts import frames
from ferry.scripts.sources import Identity, Sources, runtime_js

# A fresh worker's start is part of a `ferry js` run's start: this module imports only what a run that succeeds
# needs (`ferry.errors` pulls in dataclasses and typing, `ferry.scripts.dates` datetime: both come when used).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ferry.errors import Code, FerryError

STACK_BYTES = 1 << 20  # QuickJS's own guard against deep recursion (the C stack of the main thread is 8 MB)


def _fry() -> Any:
    """`FRY-123456 text` (compiled when first needed: `re` costs a starting worker milliseconds)."""
    global _FRY
    if _FRY is None:
        import re

        _FRY = re.compile(r"^(FRY-\d{6}) ?(.*)$", re.DOTALL)
    return _FRY


_FRY: Any = None


def code_of(text: str) -> Code:
    """The documented Code named `text`, or a Code made for it (a script may set `e.code` itself)."""
    from ferry import errors

    found = next((v for v in vars(errors).values() if isinstance(v, errors.Code) and v.code == text), None)
    return found or errors.Code(text, "error raised by the script")


class Worker:
    """One run: evaluate the prelude, then the translated script, and report how it ended."""

    def __init__(self, inbox: frames.Reader, outbox: int) -> None:
        self.inbox = inbox
        self.outbox = outbox  # the pipe's descriptor
        self.filename = "<script>"
        self.start: dict[str, Any] = {}
        self.log_error: tuple[str, tuple[str, int, int] | None] | None = None
        # The engine and its prelude (E4X runtime, JSAPI shim) are ready before the start message arrives.
        self.context = _quickjs.Context()
        self.context.set_max_stack_size(STACK_BYTES)
        self.context.add_callable("__ferry_host", self.host)
        with open(os.path.join(os.path.dirname(__file__), "shim.js"), encoding="utf-8") as file:
            shim = file.read()
        prelude = runtime_js() + "\n" + shim
        self.context.eval(prelude)
        self.sources = Sources(prelude.count("\n") + 1)

    # -- the run -------------------------------------------------------------------------------------------------

    def run(self, start: dict[str, Any]) -> None:
        """Run the script and send `done` (the only way this returns)."""
        self.start = start
        self.filename = start["filename"]
        context = self.context
        context.set_memory_limit(int(start["memory_limit"]))
        context.set("vars", context.parse_json(frames.dumps(start.get("vars") or {})))
        instance = context.parse_json(frames.dumps({"vars": start.get("instance_vars") or {}}))
        context.set("instance", instance)
        context.set("__ferry_code", self.sources.place(self.filename, Identity(start["code"])))
        try:
            thrown = context.eval("__ferry_run(__ferry_code)")
            report = frames.loads(thrown) if thrown is not None else None
        except _quickjs.StackOverflow as exc:
            report = {"name": "RangeError", "message": "Maximum call stack size exceeded", "stack": str(exc)}
        except _quickjs.JSException as exc:  # the report itself failed (out of memory again, …)
            report = _report_from_text(str(exc))
        instance_vars = self._instance_vars(context)
        if report is not None:
            self.finish_failed(self.error_of(report), self.sources.locate(report.get("stack")), instance_vars)
        elif self.log_error is not None:
            from ferry import errors
            from ferry.errors import FerryError

            message, where = self.log_error
            self.finish_failed(FerryError(errors.SCRIPT_LOG_ERROR, f"logError: {message}"), where, instance_vars)
        else:
            self.send({"t": "done", "outcome": "succeeded", "instance_vars": instance_vars})

    def _instance_vars(self, context: Any) -> dict[str, Any] | None:
        try:
            text = context.eval("__ferry_instance_vars()")
        except Exception:  # out of memory, a getter that throws: the parent keeps the input's
            return None
        value = frames.loads(text) if isinstance(text, str) else None
        return value if isinstance(value, dict) else None

    def error_of(self, report: dict[str, Any]) -> FerryError:
        """The FerryError a thrown value stands for."""
        from ferry import errors
        from ferry.errors import FerryError

        name, message = report.get("name"), str(report.get("message") or "")
        code = report.get("code")
        if isinstance(code, str) and code.startswith("FRY-"):
            found = _fry().match(message)
            return FerryError(code_of(code), found.group(2) if found and found.group(1) == code else message)
        if name == "InternalError" and "out of memory" in message:
            return FerryError(errors.SCRIPT_MEMORY, f"the script used more than its memory limit of "
                              f"{int(self.start['memory_limit']) >> 20} MiB")
        if name in ("RangeError", "InternalError") and ("call stack" in message or "stack overflow" in message):
            return FerryError(errors.SCRIPT_STACK, f"{name}: {message} (recursion too deep)")
        return FerryError(errors.SCRIPT_ERROR, f"{name}: {message}" if name else f"uncaught exception: {message}")

    def finish_failed(self, error: FerryError, where: tuple[str, int, int] | None,
                      instance_vars: dict[str, Any] | None = None) -> None:
        """Send `done` for a failed run."""
        self.send({"t": "done", "outcome": "failed", "error": {"code": error.code.code, "message": error.message},
                   "file": where[0] if where else None, "line": where[1] if where else None,
                   "column": where[2] if where else None, "instance_vars": instance_vars})

    # -- the host function the shim calls ------------------------------------------------------------------------

    def host(self, kind: str, payload: str) -> str:
        """`__ferry_host(kind, json)`: never raises into the engine (a Python exception would corrupt the call)."""
        try:
            if kind == "call":
                # Relayed as the shim wrote it, and the parent's answer handed back as it came: the parent decodes
                # the call once, the shim the answer once (no decode and re-encode here, per call).
                frames.write(self.outbox, frames.call_frame(payload))
                return self.inbox.body().decode("utf-8")
            args = frames.loads(payload)
            if kind == "log":
                where = self.sources.locate(args.get("stack"))
                message = frames.cut_message(str(args["message"]))  # a huge message never crosses the pipe whole
                if args["level"] == "error" and self.log_error is None:
                    self.log_error = (message, where)
                self.send({"t": "log", "level": args["level"], "message": message})
                return '{"ok":null}'
            if kind == "fatal":
                self.fatal(args)
            if kind == "formatDate":
                from ferry.scripts import dates

                return frames.dumps({"ok": dates.format_date(args["date"], args["format"])})
            if kind == "parseTimeStamp":
                from ferry.scripts import dates

                return frames.dumps({"ok": dates.parse_timestamp(args["text"])})
            if kind == "library":
                return frames.dumps({"ok": self.library(args["name"])})
            raise ValueError(f"unknown host request {kind!r}")
        except (frames.PipeClosed, BrokenPipeError):
            os._exit(3)  # the parent is gone or killed the run: nothing is left to report to
        except Exception as exc:
            from ferry import errors
            from ferry.errors import FerryError

            if not isinstance(exc, FerryError):  # a bug on this side: the script sees a coded error
                exc = FerryError(errors.SCRIPT_ENGINE, f"{type(exc).__name__}: {exc}")
            return frames.dumps({"error": {"code": exc.code.code, "text": exc.text}})

    def fatal(self, args: dict[str, Any]) -> None:
        """A function ferry does not offer: end the run now, whatever `catch` the script has."""
        from ferry import errors
        from ferry.errors import FerryError

        what = str(args.get("what"))
        where = self.sources.locate(args.get("stack"))
        self.finish_failed(FerryError(errors.SCRIPT_UNSUPPORTED, f"{what} is part of Campaign's JSAPI that ferry does "
                                      "not offer (a script reaches data only through xtk.session, xtk.queryDef and "
                                      "nms.subscription): the run ends here"), where)
        os._exit(0)

    def library(self, name: str) -> str:
        """`loadLibrary(name)`: the parent reads and translates the file; it is placed in its own lines here."""
        frames.write(self.outbox, frames.call_frame(frames.dumps({"op": "library", "name": name})))
        reply = self.inbox.message()
        if "error" in reply:
            from ferry.errors import FerryError

            raise FerryError(code_of(reply["error"]["code"]), _fry().sub(r"\2", reply["error"]["text"]))
        return self.sources.place(name, Identity(reply["ok"]))

    def send(self, message: dict[str, Any]) -> None:
        """One message to the parent."""
        frames.send(self.outbox, message)


def _report_from_text(text: str) -> dict[str, Any]:
    head, _, stack = text.partition("\n")
    name, sep, message = head.partition(": ")
    if not sep:
        name, message = "", head
    return {"name": name or None, "message": message, "stack": stack}


def _limit_process(memory_limit: int) -> None:
    """No files written, no child process, an address-space ceiling well above the engine's own memory limit."""
    import resource

    for limit, value in ((resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, 0),
                         (resource.RLIMIT_AS, memory_limit + (1 << 30))):
        try:  # noqa: SIM105 - contextlib is one import less for a starting worker
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):  # a platform without it, or a hard limit already lower
            pass


def _die_with_parent(parent: int) -> None:
    """Linux: be killed when the parent dies (a killed `ferry js` or server never leaves a runaway script behind)."""
    try:  # noqa: SIM105 - contextlib is one import less for a starting worker
        _prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL (9 on every Linux architecture)
    except Exception:  # not Linux: the parent's kill at the time limit still holds
        pass
    if parent and os.getppid() != parent:  # it died before prctl took effect
        os._exit(0)


def _prctl(option: int, value: int) -> None:
    """libc's `prctl(option, value)`, called through `_ctypes` as `ctypes.CDLL(None).prctl` does: the `ctypes`
    package (and `signal`, which pulls in `enum`) cost a starting worker 10-30 ms."""
    import _ctypes

    class Int(_ctypes._SimpleCData):  # type: ignore[type-arg]  # ctypes.c_int
        _type_ = "i"

    class Function(_ctypes.CFuncPtr):  # CDLL's function type: cdecl, returns an int
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = Int

    class Process:  # what a CDLL(None) holds: the handle of the process's own symbols
        _handle = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)  # type: ignore[arg-type]  # NULL: this process

    Function(("prctl", Process))(option, value)  # type: ignore[arg-type]  # anything with a `_handle`


def main() -> None:
    """Entry point of the worker process (argument: the parent's pid)."""
    _die_with_parent(int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 0)
    inbox, outbox = frames.Reader(sys.stdin.fileno()), sys.stdout.fileno()
    sys.stdout = sys.stderr  # nothing but messages on the pipe
    worker = Worker(inbox, outbox)  # ready before the start message: a worker started ahead of time waits here
    try:
        start = inbox.message()
    except frames.PipeClosed:
        return
    _limit_process(int(start["memory_limit"]))
    worker.run(start)


if __name__ == "__main__":
    main()
