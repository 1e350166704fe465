"""Workflow JavaScript (DESIGN §8): Campaign's scripts run in a sandboxed QuickJS worker, bound to ferry's JSAPI.

`run_script(source, filename=…, api=ScriptApi(…))` runs one script and returns a `ScriptResult`; the CLI's
`ferry js` and the workflow scheduler both call it. Exports are lazy so the engine's worker process, which imports
this package, stays light.
"""

from __future__ import annotations

# Not `typing.TYPE_CHECKING`: the worker imports this package and starts faster without `typing`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ferry.scripts.api import ScriptApi
    from ferry.scripts.results import LogLine, ScriptResult
    from ferry.scripts.runner import run_script

__all__ = ["LogLine", "ScriptApi", "ScriptResult", "run_script"]

_HOMES = {"ScriptApi": "ferry.scripts.api", "LogLine": "ferry.scripts.results",
          "ScriptResult": "ferry.scripts.results", "run_script": "ferry.scripts.runner"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'ferry.scripts' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(home), name)
