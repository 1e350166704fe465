"""A crash between reading a batch and recording it in staging never applies a subscription request twice."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ferry.config import Settings
from ferry.staging import StagingDatabase
from ferry.subscriptions import requests as rq
from ferry.sync import workflow
from ferry.sync.workflow import RunResult, run_once
from ferry.warehouse import Warehouse


class Crash(Exception):
    """Stands for the process dying at a step."""


@pytest.mark.parametrize("step", ["after_read", "after_load", "after_commit", "before_copy"])
def test_crash_between_read_and_record(step: str, news: StagingDatabase, warehouse: Warehouse, settings: Settings,
                                      sync: Callable[[StagingDatabase, Warehouse], RunResult],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    ann = rq.recipient_from_json(news.registry, {"email": "ann@x.com"})
    news.store.stage([rq.build_request(news.pool, rq.SUBSCRIBE, "news", ann, create=True)])
    news.store.stage([rq.build_request(news.pool, rq.UNSUBSCRIBE, "news", ann)])
    news.store.stage([rq.build_request(news.pool, rq.SUBSCRIBE, "news,sms_alerts", ann)])

    def crash(at: str) -> None:
        if at == step:
            raise Crash(at)

    monkeypatch.setattr(workflow, "crash_point", crash)
    failed = run_once(news, warehouse, "nms:subscription", settings, wait=True)
    assert failed.state == "failed" and "Crash" in str(failed.error)
    monkeypatch.undo()
    sync(news, warehouse)
    sync(news, warehouse)
    history = warehouse.select('SELECT "serviceName", action FROM nms_subhisto ORDER BY date, "serviceName"', [])
    assert history == [("news", 1), ("news", 0), ("news", 1), ("sms_alerts", 1)]
    assert sorted(warehouse.select('SELECT "serviceName" FROM nms_subscription', [])) == [("news",), ("sms_alerts",)]
    assert warehouse.select("SELECT count(*) FROM nms_recipient", []) == [(1,)]
    with news.pool.connection() as conn:
        states = conn.execute("SELECT _state FROM ferry.rows_nms_subscription ORDER BY _seq").fetchall()
    assert [s[0] for s in states] == ["synced"] * 4
