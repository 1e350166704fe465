"""Prometheus metrics at `GET /metrics`: calls, records, refusals, latency, and the staging backlog.

Each app gets its own CollectorRegistry (tests build many apps). Code anywhere counts a call with
`observe_call(where, method, protocol, outcome, seconds, records=..., schema=..., code=...)`, where `where` is
the app, a request, `app.state`, the runtime, or the `Metrics` itself; it is a no-op when metrics are not installed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ferry.errors import FerryError
from ferry.server.process.warehouse_reads import OUTCOMES as READ_OUTCOMES

log = logging.getLogger(__name__)

OUTCOMES = ("ok", "refused", "error")
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by `ferry serve --workers N` (see ferry.cli.serve_cmd)
_MAX_CACHED = 10_000
_GROUP_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 1024)
_WAIT_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0)
REFRESH_SECONDS = 0.5  # how often a process of --workers N writes its part states
PART_UP, PART_SECONDS, PART_SINCE = "ferry_part_up", "ferry_part_state_seconds", "ferry_part_state_since"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Backlog(Collector):
    """Rows per state and oldest unsynced age per staged schema, read from staging at scrape time."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        rows = GaugeMetricFamily("ferry_staging_rows", "Staged rows by schema and state (staged = backlog).",
                                 labels=["schema", "state"])
        age = GaugeMetricFamily("ferry_staging_oldest_unsynced_seconds",
                                "Age of the oldest row not yet synced, per schema (0 when none).", labels=["schema"])
        up = GaugeMetricFamily("ferry_staging_up", "1 when the staging database answered this scrape.")
        try:
            statuses = self._runtime.db.store.status()
        except Exception as exc:  # a scrape must answer even when staging is down
            log.warning("metrics: staging status unavailable: %s", exc)
            up.add_metric([], 0.0)
            yield up
            return
        for status in statuses:
            for state, count in status.counts.items():
                rows.add_metric([status.schema_id, state], float(count))
            age.add_metric([status.schema_id], status.lag_seconds)
        up.add_metric([], 1.0)
        yield from (rows, age, up)


class _Sync(Collector):
    """The sync workflow per staged schema, from its run records at scrape time: last success, rows per outcome,
    runs per state."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        from ferry.sync import WORKFLOW
        from ferry.workflows import sync_metrics

        success = GaugeMetricFamily("ferry_sync_last_success_timestamp_seconds",
                                    "When the sync of a schema last ended without error (Unix time).",
                                    labels=["schema"])
        rows = CounterMetricFamily("ferry_sync_rows", "Rows applied by the sync, by schema and outcome.",
                                   labels=["schema", "outcome"])
        runs = CounterMetricFamily("ferry_sync_runs", "Sync runs by schema and final state (failed = errors).",
                                   labels=["schema", "state"])
        try:
            found = sync_metrics(self._runtime.db)
            with self._runtime.db.pool.connection() as conn:
                states = conn.execute("SELECT schema_id, state, count(*) FROM ferry.workflow_runs "
                                      "WHERE workflow = %s GROUP BY 1, 2", (WORKFLOW,)).fetchall()
        except Exception as exc:  # a scrape must answer even when staging is down
            log.warning("metrics: sync history unavailable: %s", exc)
            return
        for item in found:
            if item.last_success is not None:
                success.add_metric([item.schema_id], item.last_success.timestamp())
            for outcome, count in item.rows_synced_total.items():
                rows.add_metric([item.schema_id, outcome], float(count))
        for schema_id, state, count in states:
            runs.add_metric([str(schema_id), str(state)], float(count))
        yield from (success, rows, runs)


class _Workflows(Collector):
    """Workflow scripts, from their run records at scrape time: runs per outcome, last success, log lines dropped."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        from ferry.workflows import script_runs

        runs = CounterMetricFamily("ferry_workflow_runs", "Workflow script runs kept in the history, by workflow "
                                   "and outcome.", labels=["workflow", "outcome"])
        success = GaugeMetricFamily("ferry_workflow_last_success_timestamp_seconds",
                                    "When a workflow script last ended without error (Unix time).", labels=["workflow"])
        dropped = CounterMetricFamily("ferry_workflow_log_lines_dropped", "Log lines of workflow runs not kept (past "
                                      "FERRY_WORKFLOW_LOG_LINES), by workflow.", labels=["workflow"])
        try:
            found = script_runs.metrics(self._runtime.db.pool)
        except Exception as exc:  # a scrape must answer even when staging is down
            log.warning("metrics: workflow history unavailable: %s", exc)
            return
        for item in found:
            for outcome, count in item.runs.items():
                runs.add_metric([item.workflow, outcome], float(count))
            if item.last_success is not None:
                success.add_metric([item.workflow], item.last_success.timestamp())
            dropped.add_metric([item.workflow], float(item.log_dropped))
        yield from (runs, success, dropped)


def _part_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    up = GaugeMetricFamily(PART_UP, "1 when the part (staging, warehouse) answered its last check, 0 when down or "
                           "refused; parts a role does not use are left out. With --workers N: 1 only when it did in "
                           "every process.", labels=["part"])
    since = GaugeMetricFamily(PART_SECONDS, "Seconds the part has been in its current state (with --workers N: "
                              "since the last process entered it).", labels=["part", "status"])
    return up, since


class _Parts(Collector):
    """Each part's cached state (no query at scrape time), in a process serving alone; under --workers N the
    processes write them into the shared files instead (`_SharedParts`)."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        monitor = getattr(self._runtime, "parts", None)
        if monitor is None or os.environ.get(MULTIPROCESS_ENV):
            return
        up, since = _part_families()
        for name in monitor.names:
            state = monitor.peek(name)
            if state.status in ("off", "unknown"):
                continue
            up.add_metric([name], 1.0 if state.status == "up" else 0.0)
            since.add_metric([name, state.status], max(0.0, time.time() - state.since))
        yield from (up, since)


class _SharedParts:
    """--workers N: this process's part states, kept in the shared metric files (a scrape of any process reads
    every process's): up as `livemin`, and when each state began as `livemax` (turned into seconds at scrape)."""

    def __init__(self, runtime: Any) -> None:
        self._monitor = runtime.parts
        self.up = Gauge(PART_UP, "Part answered its last check", ["part"], registry=None,
                        multiprocess_mode="livemin")
        self.since = Gauge(PART_SINCE, "When the part entered its status (Unix time; 0: not in it)",
                           ["part", "status"], registry=None, multiprocess_mode="livemax")
        self._status: dict[str, str] = {}
        self._lock = threading.Lock()  # the refresh thread and a scrape may both write

    def refresh(self) -> None:
        """Write this process's current part states (a late check counts as down, as `/healthz` tells it)."""
        if not self._monitor.started:
            return
        with self._lock:
            self._write()

    def _write(self) -> None:
        for name in self._monitor.names:
            state = self._monitor.peek(name)
            if state.status in ("off", "unknown"):
                continue
            self.up.labels(name).set(1.0 if state.status == "up" else 0.0)
            old = self._status.get(name)
            if old is not None and old != state.status:
                self.since.labels(name, old).set(0.0)
            self.since.labels(name, state.status).set(state.since)
            self._status[name] = state.status

    def start(self) -> None:
        """Refresh every REFRESH_SECONDS on a daemon thread, for as long as this object lives."""
        ref = weakref.ref(self)

        def loop() -> None:
            while True:
                shared = ref()
                if shared is None:
                    return
                try:
                    shared.refresh()
                except Exception as exc:  # the next tick tries again
                    log.debug("metrics: part states not written: %s", exc)
                del shared
                time.sleep(REFRESH_SECONDS)

        threading.Thread(target=loop, name="ferry-metrics-parts", daemon=True).start()


class _Merged(Collector):
    """Every process's series from the shared files, with the parts' start times turned into seconds."""

    def __init__(self, folder: str) -> None:
        self._files = MultiProcessCollector(None, path=folder)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterator[Metric]:
        for family in self._files.collect():  # type: ignore[no-untyped-call]
            if family.name != PART_SINCE:
                yield family
                continue
            _, seconds = _part_families()
            now = time.time()
            for sample in family.samples:
                if sample.value > 0:
                    seconds.add_metric([sample.labels["part"], sample.labels["status"]], max(0.0, now - sample.value))
            yield seconds


class _StagingDown(Collector):
    """`ferry_staging_up 0` for a scrape answered without asking staging (down, or not answering in time)."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ferry_staging_up", "1 when the staging database answered this scrape.")
        up.add_metric([], 0.0)
        yield up


class Metrics:
    """The metric series of one app."""

    def __init__(self, runtime: Any | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        # What a scrape answers when staging is down or slow: everything but the series read from staging.
        self.light = CollectorRegistry(auto_describe=False)
        self._runtime = runtime
        self._full: Future[bytes] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferry-metrics")
        self.calls = Counter("ferry_calls", "API calls by method, protocol and outcome (ok, refused, error).",
                             ["method", "protocol", "outcome"], registry=self.registry)
        self.records = Counter("ferry_records_staged", "Records staged by accepted calls.",
                               ["schema", "protocol"], registry=self.registry)
        self.refusals = Counter("ferry_refusals", "Refused calls by error code (FRY-…, XSV-…, SOP-…).",
                                ["code", "protocol"], registry=self.registry)
        self.latency = Histogram("ferry_request_seconds", "Time to answer an API call, in seconds.",
                                 ["method", "protocol"], buckets=_BUCKETS, registry=self.registry)
        self.logons_refused = Counter("ferry_logons_refused", "Refused logons by reason (bad_credentials, "
                                      "throttled) and way in (soap, rest, console).", ["reason", "via"],
                                      registry=self.registry)
        self.group_calls = Histogram("ferry_group_commit_calls", "Calls written by one group commit.",
                                     buckets=_GROUP_BUCKETS, registry=self.registry)
        self.idle_runs = Counter("ferry_sync_idle_runs", "Scheduled sync runs not recorded in the run history "
                                 "because they did nothing, by schema and outcome (empty: nothing to read; skipped: "
                                 "another worker held the schema).", ["schema", "outcome"], registry=self.registry)
        self.purge_idle = Counter("ferry_purge_idle_runs", "Passes of the purge workflow (ferryPurgeStagingData) not "
                                  "recorded in the run history because they dropped nothing.", registry=self.registry)
        self.group_wait = Histogram("ferry_group_commit_wait_seconds", "How long the first call of a group commit "
                                    "waited for a free writer, in seconds.", buckets=_WAIT_BUCKETS,
                                    registry=self.registry)
        self.reads = Counter("ferry_warehouse_reads", "Warehouse calls of the API by outcome (ok, timeout = "
                             "FRY-500006, refused = too many waiting, error).", ["outcome"], registry=self.registry)
        for outcome in READ_OUTCOMES:
            self.reads.labels(outcome)
        self.reads_in_flight = Gauge("ferry_warehouse_reads_in_flight", "Warehouse calls of the API running or "
                                     "waiting for a thread (summed over the live processes).",
                                     registry=self.registry, multiprocess_mode="livesum")
        for own in (self.calls, self.records, self.refusals, self.latency, self.idle_runs, self.purge_idle,
                    self.reads, self.reads_in_flight):
            self.light.register(own)
        # What a scrape reads from staging (the same whichever process answers), and this process's parts.
        self._read: list[Collector] = []
        self._light_read: list[Collector] = []
        if runtime is not None:
            parts = _Parts(runtime)
            self._read = [_Backlog(runtime), _Sync(runtime), _Workflows(runtime), parts]
            self._light_read = [parts, _StagingDown()]
            for collector in self._read:
                self.registry.register(collector)
            for collector in self._light_read:
                self.light.register(collector)
        # The labelled children of each (method, protocol, outcome) and (schema, protocol): `labels()` takes a
        # lock and builds its key on every call, which a unitary call should not pay three times.
        self._call_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._record_children: dict[tuple[str, str], Any] = {}
        self._shared_parts: _SharedParts | None = None

    def share_parts(self) -> None:
        """--workers N: write this process's part states into the shared files, every REFRESH_SECONDS."""
        if self._shared_parts is None and getattr(self._runtime, "parts", None) is not None:
            self._shared_parts = _SharedParts(self._runtime)
            self._shared_parts.start()

    def observe_read(self, outcome: str) -> None:
        """Count one warehouse call of the API (`WarehouseReads.on_outcome`)."""
        self.reads.labels(outcome).inc()

    def observe_flight(self, delta: int) -> None:
        """A warehouse call started (+1) or ended (-1) (`WarehouseReads.on_flight`)."""
        self.reads_in_flight.inc(delta)

    def observe_call(self, method: str, protocol: str, outcome: str, seconds: float, *, records: int = 0,
                     schema: str | None = None, code: str | None = None) -> None:
        """Count one answered call; `records` staged into `schema`; `code` of a refusal or error."""
        children = self._call_children.get((method, protocol, outcome))
        if children is None:
            children = (self.calls.labels(method, protocol, outcome), self.latency.labels(method, protocol))
            if len(self._call_children) < _MAX_CACHED:
                self._call_children[(method, protocol, outcome)] = children
        children[0].inc()
        children[1].observe(max(0.0, seconds))
        if records and schema:
            counter = self._record_children.get((schema, protocol))
            if counter is None:
                counter = self.records.labels(schema, protocol)
                if len(self._record_children) < _MAX_CACHED:
                    self._record_children[(schema, protocol)] = counter
            counter.inc(records)
        if code and outcome != "ok":
            self.refusals.labels(code, protocol).inc()

    def idle_run(self, workflow: str, schema: str, outcome: str) -> None:
        """Count one run left out of the history because it did nothing (`ferry.sync.runs.idle_observer`)."""
        from ferry.sync import PURGE_WORKFLOW

        if workflow == PURGE_WORKFLOW:
            self.purge_idle.inc()
        else:
            self.idle_runs.labels(schema, outcome).inc()

    def logon_refused(self, reason: str, via: str) -> None:
        """Count one refused logon (the Authenticator's `logon_observer`)."""
        self.logons_refused.labels(reason, via).inc()

    def observe_group(self, calls: int, waited: float) -> None:
        """Count one group commit of `calls` calls whose first call waited `waited` seconds for a writer."""
        self.group_calls.observe(calls)
        self.group_wait.observe(waited)

    def _exposition(self, light: bool) -> bytes:
        """The text exposition format. With `--workers N` (PROMETHEUS_MULTIPROC_DIR set) the counters and
        histograms are the sums over every process's files, so any process answers the same."""
        folder = os.environ.get(MULTIPROCESS_ENV)
        if not folder:
            return generate_latest(self.light if light else self.registry)
        merged = CollectorRegistry(auto_describe=False)
        merged.register(_Merged(folder))
        if self._shared_parts is not None:
            self._shared_parts.refresh()  # this process's own, as of now
        for collector in self._light_read if light else self._read:
            merged.register(collector)
        return generate_latest(merged)

    def render(self) -> bytes:
        """The text exposition format."""
        return self._exposition(light=False)

    def render_light(self) -> bytes:
        """Everything but the series read from staging."""
        return self._exposition(light=True)

    async def render_bounded(self) -> bytes:
        """`render()` on the metrics thread within the health timeout; without the staging series (and with
        `ferry_staging_up 0`) when staging is down, does not answer in time, or a previous scrape still waits on it."""
        monitor = getattr(self._runtime, "parts", None)
        if monitor is not None and "staging" in monitor.names and monitor.peek("staging").status == "down":
            return self.render_light()
        if self._full is not None and not self._full.done():
            return self.render_light()
        timeout = float(getattr(monitor, "timeout", 1.0)) if monitor is not None else 5.0
        self._full = self._executor.submit(self.render)
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self._full)), timeout)
        except TimeoutError:
            log.warning("metrics: staging did not answer within %.1f s; series read from it left out", timeout)
            return self.render_light()


def metrics_of(where: Any) -> Metrics | None:
    """The Metrics of an app, request, app.state or runtime (anything with `.metrics` / `.state.metrics`)."""
    for candidate in (where, getattr(where, "metrics", None), getattr(getattr(where, "state", None), "metrics", None),
                      getattr(getattr(getattr(where, "app", None), "state", None), "metrics", None)):
        if isinstance(candidate, Metrics):
            return candidate
    return None


def observe_call(where: Any, method: str, protocol: str, outcome: str, seconds: float, *, records: int = 0,
                 schema: str | None = None, code: str | None = None) -> None:
    """Count one answered call on the metrics installed for `where`; nothing happens when none are installed.

    method: `Ingest`, `IngestExt`, `Logon`, … (SOAP) or the REST route name; protocol: `soap` | `rest`;
    outcome: `ok` | `refused` (a fault the caller caused) | `error` (ours).
    """
    metrics = metrics_of(where)
    if metrics is not None:
        metrics.observe_call(method, protocol, outcome, seconds, records=records, schema=schema, code=code)


def install(app: FastAPI, runtime: Any) -> Metrics:
    """Create the app's metrics (`app.state.metrics`) and serve them at `GET /metrics`."""
    from ferry.server.api.rest_support import error_response
    from ferry.server.door.metrics_guard import check_scrape

    metrics = Metrics(runtime)
    app.state.metrics = metrics
    auth = getattr(runtime, "auth", None)
    if auth is not None and hasattr(auth, "logon_observer"):
        auth.logon_observer = metrics.logon_refused
    from ferry.sync import runs

    runs.idle_observer = metrics.idle_run
    writer = getattr(runtime, "writer", None)
    if writer is not None and hasattr(writer, "observer"):
        writer.observer = metrics.observe_group
    reads = getattr(runtime, "reads", None)
    if reads is not None and hasattr(reads, "on_outcome"):
        reads.on_outcome, reads.on_flight = metrics.observe_read, metrics.observe_flight
    if os.environ.get(MULTIPROCESS_ENV):
        metrics.share_parts()

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics (text exposition format; token or "
             "network, see docs/security.md)", response_class=Response)
    async def scrape(request: Request) -> Response:
        try:
            check_scrape(runtime.settings, request)
        except FerryError as exc:
            return error_response(exc)
        # The backlog collector queries PostgreSQL: on the metrics thread, bounded (see render_bounded).
        body = await metrics.render_bounded()
        return Response(content=body, media_type=CONTENT_TYPE_LATEST)

    return metrics
