"""The scheduler of the sync workflow and the history of workflow runs."""

from ferry.workflows.history import SyncMetrics, last_success, list_runs, sync_metrics
from ferry.workflows.scheduler import Scheduler

__all__ = ["Scheduler", "SyncMetrics", "last_success", "list_runs", "sync_metrics"]
