"""The code one engine evaluates, and mapping a position in it back to the original script or library.

Every eval of QuickJS numbers lines from 1 and names its file `<input>`. The runtime and the shim are evaluated
first (lines 1…R); the script and each library are then prefixed with newlines so that each occupies its own
range of lines: a stack frame's line tells which source it belongs to, and the translation maps it back.
"""

from __future__ import annotations

import os

# Not `typing.TYPE_CHECKING`, no dataclasses, no importlib.resources: the worker imports this module, and each of
# those costs its interpreter start milliseconds (a fresh worker is part of a `ferry js` run's start).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object

_FRAME: Any = None  # `<input>:line:column`, compiled when first needed (`re` costs a starting worker milliseconds)


class Translated(Protocol):
    """What the E4X translator gives back (`ferry.scripts.e4x.Translation`)."""

    @property
    def code(self) -> str: ...

    def original_position(self, line: int, column: int) -> tuple[int, int]: ...


class _Source:
    __slots__ = ("filename", "first", "last", "translation")

    def __init__(self, first: int, last: int, filename: str, translation: Translated) -> None:
        self.first = first  # first line, in the engine's numbering
        self.last = last
        self.filename = filename
        self.translation = translation


class Sources:
    """The ranges of lines already handed out; the prelude (runtime and shim) holds lines 1…`prelude_lines`."""

    def __init__(self, prelude_lines: int) -> None:
        self.prelude_lines = prelude_lines
        self._sources: list[_Source] = []

    @property
    def next_line(self) -> int:
        """The first free line."""
        return (self._sources[-1].last if self._sources else self.prelude_lines) + 1

    def place(self, filename: str, translation: Translated) -> str:
        """The translated code, prefixed so it starts at the first free line; remembers its range."""
        first = self.next_line
        lines = translation.code.count("\n") + 1
        self._sources.append(_Source(first, first + lines - 1, filename, translation))
        return "\n" * (first - 1) + translation.code

    def locate(self, stack: str | None) -> tuple[str, int, int] | None:
        """(file, line, column) in the source placed (its translation maps it back) of the innermost frame of
        `stack` that lies in a script or a library (frames in the runtime or the shim are skipped), or None."""
        global _FRAME
        if not stack:
            return None
        if _FRAME is None:
            import re

            _FRAME = re.compile(r"<input>:(\d+)(?::(\d+))?")
        for match in _FRAME.finditer(stack):
            line, column = int(match.group(1)), int(match.group(2) or 1)
            for source in self._sources:
                if source.first <= line <= source.last:
                    original = source.translation.original_position(line - source.first + 1, column)
                    return source.filename, original[0], original[1]
        return None


class Identity:
    """A translation that changes nothing (code already translated, or no E4X translator available)."""

    __slots__ = ("code",)

    def __init__(self, code: str) -> None:
        self.code = code

    def original_position(self, line: int, column: int) -> tuple[int, int]:
        """The same position."""
        return line, column


def runtime_js() -> str:
    """The E4X runtime's JavaScript (read without importing the translator: the worker only evaluates code)."""
    try:
        with open(os.path.join(os.path.dirname(__file__), "e4x", "runtime.js"), encoding="utf-8") as file:
            return file.read()
    except (FileNotFoundError, NotADirectoryError):  # the E4X package is absent: plain JavaScript runs
        return ""


def translator() -> tuple[Any, str]:
    """(`translate(source, filename)`, RUNTIME_JS) of the E4X package, or an identity translation."""
    import importlib

    try:
        e4x = importlib.import_module("ferry.scripts.e4x")
    except ImportError:  # the E4X translator is built in its own branch; plain JavaScript runs meanwhile
        return (lambda source, filename: Identity(source)), ""
    return e4x.translate, str(e4x.RUNTIME_JS)
