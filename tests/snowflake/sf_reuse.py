"""The DuckDB/PostgreSQL test modules whose cases and helpers the Snowflake tests run again (loaded by path: the
suite imports test folders in importlib mode, so another folder's modules are not importable by name)."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

TESTS = Path(__file__).parent.parent


@functools.cache
def load(relative: str) -> ModuleType:
    """A module of the test tree by its path under tests/ (e.g. "query/conftest.py"), loaded once."""
    path = TESTS / relative
    name = "sf_reuse_" + relative.removesuffix(".py").replace("/", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def cases(module: ModuleType, fixture: str) -> Iterator[tuple[str, Callable[..., Any], dict[str, Any]]]:
    """(id, test function, parameters) of every test in `module` that takes `fixture`, one per parametrize case."""
    for name, function in inspect.getmembers(module, inspect.isfunction):
        if not name.startswith("test_") or fixture not in inspect.signature(function).parameters:
            continue
        marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
        if not marks:
            yield name, function, {}
            continue
        names, values = marks[0].args[0], marks[0].args[1]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        for index, value in enumerate(values):
            row = value if len(names) > 1 else (value,)
            yield f"{name}[{index}]", function, dict(zip(names, row, strict=True))
