"""Fault injection for crash tests: `FERRY_SYNC_CRASH_AT=<step>` kills the process with SIGKILL at that step."""

from __future__ import annotations

import os
import signal

# after_read: a batch is read; after_load: applied, ledger row written, not committed; after_commit: committed in the
# warehouse; before_copy: about to record it in staging; after_copy: recorded.
STEPS = ("after_read", "after_load", "after_commit", "before_copy", "after_copy")


def crash_point(step: str) -> None:
    """Die here, without any cleanup, when the environment asks for it (tests only)."""
    wanted = os.environ.get("FERRY_SYNC_CRASH_AT")
    if wanted and wanted == step:
        os.kill(os.getpid(), signal.SIGKILL)
