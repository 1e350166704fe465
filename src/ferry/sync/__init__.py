"""The replication workflow: claim staged rows, fold per key, apply to a warehouse exactly once, mark rows."""

from ferry.sync.workflow import PURGE_WORKFLOW, WORKFLOW, RunResult, purge, run_once

__all__ = ["PURGE_WORKFLOW", "WORKFLOW", "RunResult", "purge", "run_once"]
