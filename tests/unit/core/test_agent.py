"""The agent's tick: every step runs, failures never stop it, old datapoints are pruned."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftloop import agent as agent_module
from driftloop.agent import Agent
from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.config import ScheduleSettings, load_settings
from driftloop.metrics.base import Datapoint


def test_tick_survives_failures_runs_due_schedules_and_prunes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(home=tmp_path / "ws")
    monitoring = settings.monitoring.model_copy(
        update={"schedules": [ScheduleSettings(endpoint="churn", every="1m")]}
    )
    settings = settings.model_copy(update={"monitoring": monitoring})
    calls: list[tuple[str, datetime, datetime]] = []

    def failing_run(
        _settings: object, endpoint: str, since: datetime, until: datetime, **_: object
    ) -> None:
        calls.append((endpoint, since, until))
        raise RuntimeError("monitoring broke")

    monkeypatch.setattr(agent_module, "run_locked", failing_run)
    store = SqliteMetricStore(settings.workspace.metrics_db)
    old = int((datetime.now(UTC) - timedelta(days=30)).timestamp()) // 60 * 60
    store.put_metric_data(
        [
            Datapoint(
                "AWS/SageMaker", "Invocations", {"EndpointName": "churn"}, old, "None", 1, 1, 1, 1
            )
        ]
    )
    agent = Agent(settings)
    agent.tick(datetime.now(UTC) + timedelta(minutes=2))
    agent.schedules[0].running.join(5)  # type: ignore[union-attr]
    assert [c[0] for c in calls] == ["churn"]
    assert calls[0][2] - calls[0][1] >= timedelta(minutes=1)
    assert store.get_metric_data("AWS/SageMaker", "Invocations", {"EndpointName": "churn"}) == []
    stop = threading.Event()
    stop.set()
    agent.run(stop)  # returns at once when asked to stop


def test_a_damaged_store_is_one_log_line_per_step_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(home=tmp_path / "ws")
    agent = Agent(settings)
    settings.workspace.alarms_db.write_bytes(b"not a database at all" * 100)
    with caplog.at_level(logging.ERROR, logger="driftloop"):
        agent.tick()
    failed = [r for r in caplog.records if "_alarms failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is None
    assert str(settings.workspace.alarms_db) in failed[0].getMessage()
