"""The scenarios of `bench/run`, one module each, by the name `--only` takes (in the order of a full run)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scenarios.collection import collection
from scenarios.growth import growth
from scenarios.lag import lag
from scenarios.memory import memory
from scenarios.sync import sync
from scenarios.unitary import unitary

SCENARIOS: dict[str, Callable[[dict[str, Any], list[dict[str, Any]], list[str]], None]] = {
    "unitary": unitary, "collection": collection, "sync": sync, "memory": memory, "growth": growth, "lag": lag}
