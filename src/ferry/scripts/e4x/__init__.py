"""E4X for workflow scripts: a translation to standard JavaScript and the runtime it runs on."""

from __future__ import annotations

from importlib.resources import files

from ferry.scripts.e4x.translator import Translation, translate

RUNTIME_JS: str = files(__name__).joinpath("runtime.js").read_text(encoding="utf-8")

__all__ = ["RUNTIME_JS", "Translation", "translate"]
