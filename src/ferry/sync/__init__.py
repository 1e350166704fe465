"""The replication workflow: read the staging log by `_seq` range, fold per key, apply exactly once, record."""

from ferry.sync.workflow import PURGE_WORKFLOW, WORKFLOW, RunResult, purge, run_once

__all__ = ["PURGE_WORKFLOW", "WORKFLOW", "RunResult", "purge", "run_once"]
