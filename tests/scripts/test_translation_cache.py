"""Translations kept on disk: read back the same, private, keyed by the text and the translator, misses harmless."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from ferry.scripts import runner
from ferry.scripts.e4x import cache, translate

SOURCE = 'var x = <a b={1 + 2}>\n  <c/>\n</a>;\nif (x.@b == "3") logInfo(x.c.length());\nnull.boom;\n'


def test_a_kept_translation_reads_back_the_same_code_and_positions(tmp_path: Path) -> None:
    made = translate.__wrapped__(SOURCE, "s.js")
    cache.store(tmp_path, SOURCE, made)
    read = cache.load(tmp_path, SOURCE)
    assert read is not None
    assert read.code == made.code
    for line in range(1, SOURCE.count("\n") + 2):
        for column in range(1, 40, 3):
            assert read.original_position(line, column) == made.original_position(line, column)


def test_the_cache_is_private_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "KEPT", 3)
    for n in range(5):
        text = f"var n = {n};\n"
        cache.store(tmp_path, text, translate.__wrapped__(text, "s.js"))
    folder = tmp_path / cache.FOLDER
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.iterdir())
    assert len(files) == 3
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_another_translator_or_a_damaged_file_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.store(tmp_path, SOURCE, translate.__wrapped__(SOURCE, "s.js"))
    path = tmp_path / cache.FOLDER / (cache.key(SOURCE) + ".e4x")
    monkeypatch.setattr(cache, "_version", b"another translator")
    assert cache.load(tmp_path, SOURCE) is None
    monkeypatch.undo()
    assert cache.load(tmp_path, SOURCE) is not None
    path.write_bytes(b"garbage")
    assert cache.load(tmp_path, SOURCE) is None
    cache.store(tmp_path / "missing" / "\x00bad", SOURCE, translate.__wrapped__(SOURCE, "s.js"))  # no error


def test_a_run_in_a_new_process_reads_the_translation_kept_by_an_earlier_one(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first = runner.Translations(tmp_path)
    code = first.translate(SOURCE, "s.js")
    runner._remembered.clear()  # as a new process

    def refuse(source: str, filename: str) -> Any:
        raise AssertionError("translated again")

    second = runner.Translations(tmp_path)
    monkeypatch.setattr(second, "translate_fn", refuse)
    assert second.translate(SOURCE, "s.js") == code
    assert second.original("s.js", 5, 6) == first.original("s.js", 5, 6)
