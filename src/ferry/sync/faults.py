"""Fault injection for crash tests: `FERRY_SYNC_CRASH_AT=<step>` kills the process with SIGKILL at that step."""

from __future__ import annotations

import os
import signal

STEPS = ("after_claim", "after_load", "after_commit", "before_mark", "after_mark")


def crash_point(step: str) -> None:
    """Die here, without any cleanup, when the environment asks for it (tests only)."""
    wanted = os.environ.get("FERRY_SYNC_CRASH_AT")
    if wanted and wanted == step:
        os.kill(os.getpid(), signal.SIGKILL)
