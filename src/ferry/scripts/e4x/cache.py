"""Translations kept on disk, keyed by the script's text and the translator's own source: a `ferry js` run (a new
process each time) of a script translated before skips the translation.

One file per text, `<sha256>.e4x` in the data folder's `script-cache/` (folder 0700, files 0600: a script may hold
what its author would not show). A file that cannot be read or written is a miss, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from array import array
from pathlib import Path

from ferry.private_files import FILE_MODE, private_folder
from ferry.scripts.e4x.translator import Translation

FOLDER = "script-cache"
KEPT = 256  # files: past this, the least recently used go (a scheduler runs few distinct texts)
_MAGIC = b"FE4X1\n"
_version: bytes | None = None


def translator_version() -> bytes:
    """A digest of the translator's own source: any change to it is a new key, so no stale translation is read."""
    global _version
    if _version is None:
        digest = hashlib.sha256()
        here = os.path.dirname(__file__)
        try:
            for name in ("lexer.py", "translator.py", "cache.py"):
                with open(os.path.join(here, name), "rb") as file:
                    digest.update(file.read())
        except OSError:  # no sources beside the code (a packed install): its version names the translator
            from ferry import __version__

            digest.update(b"ferry " + __version__.encode())
        _version = digest.digest()
    return _version


def key(source: str) -> str:
    """The file name a text's translation is kept under."""
    return hashlib.sha256(translator_version() + source.encode("utf-8", "surrogatepass")).hexdigest()


def load(folder: Path, source: str) -> Translation | None:
    """The translation kept for `source`, or None."""
    path = folder / FOLDER / (key(source) + ".e4x")
    try:
        with open(path, "rb") as file:
            data = file.read()
    except (OSError, ValueError):
        return None
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 8:
        return None
    at = len(_MAGIC)
    code_size = int.from_bytes(data[at : at + 8], "little")
    at += 8
    try:
        code = data[at : at + code_size].decode("utf-8", "surrogatepass")
        anchors = array("i")
        anchors.frombytes(data[at + code_size :])
    except (UnicodeDecodeError, ValueError):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept when the folder is trimmed
    return Translation(code, anchors)


def store(folder: Path, source: str, translation: Translation) -> None:
    """Keep `translation` for `source` (written whole under a temporary name, then renamed into place)."""
    try:
        where = private_folder(folder / FOLDER)
        path = where / (key(source) + ".e4x")
        code = translation.code.encode("utf-8", "surrogatepass")
        data = _MAGIC + len(code).to_bytes(8, "little") + code + translation.flat_anchors().tobytes()
        temporary = where / f".{path.name}.{os.getpid()}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
        _trim(where)
    except (OSError, ValueError):  # a read-only or odd data folder: the next run translates again
        return


def _trim(where: Path) -> None:
    entries = [entry for entry in os.scandir(where) if entry.name.endswith(".e4x")]
    if len(entries) <= KEPT:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime)
    for entry in entries[: len(entries) - KEPT]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
