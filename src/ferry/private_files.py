"""The data folder and the files in it belong to the user running ferry alone: folder 0700, files 0600.

The warehouse file holds every record (emails included): readable by any local user at 0644, as it was. PostgreSQL
makes its own folder 0700; DuckDB creates its file and re-creates its WAL after each checkpoint with the process's
umask, so the `ferry` command runs with umask 077 (as PostgreSQL's server does) and files left open by an older
ferry are tightened when they are opened again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

PRIVATE_UMASK = 0o077
FOLDER_MODE = 0o700
FILE_MODE = 0o600


def keep_private() -> None:
    """Every file and folder this process creates from now on is its owner's alone (umask 077)."""
    os.umask(PRIVATE_UMASK)


@contextlib.contextmanager
def shared_umask() -> Iterator[None]:
    """The usual umask (022) for a while: the embedded PostgreSQL wheel, run as root, hands its files to another
    system user, who must be able to read them."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def traversable_by_another_user(path: Path) -> None:
    """0711: another system user may pass through `path` (not list or read it); root's embedded PostgreSQL."""
    os.chmod(path, 0o711)


def private_folder(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700, or tighten it to 0700 when it is ours and open to others."""
    path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    tighten(path, FOLDER_MODE)
    return path


def tighten(path: Path, mode: int) -> None:
    """Take group and other rights off `path` when this user owns it (someone else's file is left alone)."""
    try:
        info = path.stat()
    except OSError:
        return
    if info.st_uid == os.getuid() and info.st_mode & PRIVATE_UMASK:
        os.chmod(path, mode)


def tighten_files(*paths: Path) -> None:
    """`tighten` each existing file to 0600."""
    for path in paths:
        tighten(path, FILE_MODE)
