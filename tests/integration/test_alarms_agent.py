"""Alarms on real endpoint latency, notifications, rules and the agent process."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from driftloop.agent import Agent
from driftloop.backends.catalog import Backends
from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.config import Settings
from driftloop.data.generator import generate
from driftloop.events.log import read_events
from driftloop.serving.endpoint_config import EndpointConfig, Fault, Variant
from tests.servers import DRIFTLOOP, Server, post, start_server
from tests.waiting import wait_until
from tests.workspaces import emit, endpoint_store, service_env, settings_for, trained

pytestmark = pytest.mark.slow
OPS = "arn:aws:sns:us-east-1:123456789012:ops"
PERIOD = 10  # a high-resolution alarm, so the test waits seconds, not a minute


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("alarms")
    trained(root, seed=3, extra_toml="[agent]\ntick_s = 0.5\n")
    ws = settings_for(root).workspace
    slow = Variant(name="AllTraffic", model="champion", fault=Fault(delay_ms=5))
    endpoint_store(ws).save(
        EndpointConfig(name="churn", model_name="churn-model", variants=(slow,))
    )
    return root


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRIFTLOOP, *args],
        env={**os.environ, **service_env(root)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _traffic(url: str, count: int) -> int:
    body = orjson.dumps(
        generate(1, seed=1).drop(columns=["customerID", "Churn"]).to_dict("records")[0]
    )
    for _ in range(count):
        assert post(f"{url}/invocations", body, {"content-type": "application/json"})[0] == 200
    return int(time.time()) // PERIOD


def _latency_samples(settings: Settings) -> float:
    """How many requests' ModelLatency of churn/AllTraffic the metric store holds so far."""
    dims = {"EndpointName": "churn", "VariantName": "AllTraffic"}
    metrics = Backends.from_settings(settings).metrics
    return sum(p.count for p in metrics.get_metric_data("AWS/SageMaker", "ModelLatency", dims))


def _flushed(settings: Settings, samples: float) -> None:
    """Wait until the worker's metric flush brought the store to ``samples`` latencies."""
    what = f"{samples:g} ModelLatency samples in the metric store (a metric flush)"
    wait_until(lambda: _latency_samples(settings) >= samples, 10, what=what)


def _live(server: Server, revision: int) -> None:
    """Wait until the worker has applied endpoint config ``revision`` (it logs each one)."""
    live = re.compile(rf"\brevision {revision} live\b")
    what = f"the worker applying revision {revision}"
    wait_until(lambda: live.search(server.log.read_text()), 10, what=what)


def _after(period: int) -> datetime:
    """Evaluation time once the alarm period number ``period`` (since the epoch) completed."""
    return datetime.fromtimestamp((period + 1) * PERIOD + 1, tz=UTC)


def test_real_latency_drives_the_alarm_to_alarm_and_back(home: Path, tmp_path: Path) -> None:
    put = _cli(
        home,
        "alarms",
        "put",
        "--alarm-name",
        "HighLatencyAlarm",
        "--metric-name",
        "ModelLatency",
        "--namespace",
        "AWS/SageMaker",
        "--statistic",
        "Average",
        "--period",
        str(PERIOD),
        "--threshold",
        "1000",
        "--comparison-operator",
        "GreaterThanThreshold",
        "--dimensions",
        "Name=EndpointName,Value=churn",
        "--dimensions",
        "Name=VariantName,Value=AllTraffic",
        "--evaluation-periods",
        "1",
        "--treat-missing-data",
        "notBreaching",
        "--alarm-actions",
        OPS,
        "--ok-actions",
        OPS,
    )
    assert put.returncode == 0, put.stderr
    bad = _cli(
        home,
        "alarms",
        "put",
        "--alarm-name",
        "X",
        "--metric-name",
        "Latency",
        "--namespace",
        "AWS/SageMaker",
        "--statistic",
        "Average",
        "--period",
        "60",
        "--threshold",
        "1",
        "--comparison-operator",
        "GreaterThanThreshold",
        "--evaluation-periods",
        "1",
    )
    assert bad.returncode == 2 and "unknown metric 'Latency'" in bad.stderr
    marker = tmp_path / "ran.jsonl"
    script = f"import sys; open({str(marker)!r}, 'a').write(sys.stdin.read().strip() + '\\n')"
    rule = _cli(
        home,
        "rules",
        "put",
        "on-alarm",
        "--event-pattern",
        json.dumps(
            {
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {"state": {"value": ["ALARM"]}},
            }
        ),
        "--target",
        json.dumps({"type": "command", "command": [sys.executable, "-c", script]}),
    )
    assert rule.returncode == 0, rule.stderr

    settings = settings_for(home)
    server = start_server(["churn", "--workers", "1"], service_env(home), tmp_path / "server.log")
    try:
        server.wait_ready()
        samples = _latency_samples(settings)
        slow_minute = _traffic(server.url, 40)
        _flushed(settings, samples + 40)
        agent = Agent(settings)
        agent.tick(_after(slow_minute))
        store = SqliteAlarmStore(settings.workspace.root / "alarms.db")
        assert store.get("HighLatencyAlarm").state == "ALARM"

        store_config = endpoint_store(settings.workspace)
        fast = store_config.save(
            store_config.get("churn").model_copy(
                update={"variants": (Variant(name="AllTraffic", model="champion"),)}
            )
        )
        _live(server, fast.revision)
        # Time itself: the fast requests must fall in the next alarm period.
        what = "the next alarm period"
        wait_until(lambda: int(time.time()) // PERIOD > slow_minute, PERIOD + 5, what=what)
        samples = _latency_samples(settings)
        fast_minute = _traffic(server.url, 40)
        _flushed(settings, samples + 40)
        agent.tick(_after(fast_minute))
        assert store.get("HighLatencyAlarm").state == "OK"
    finally:
        server.stop()

    states = [(h.old, h.new) for h in reversed(store.history("HighLatencyAlarm"))]
    assert states == [("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]
    notes = [
        json.loads(line)
        for line in (settings.workspace.root / "notifications" / "ops.jsonl")
        .read_text()
        .splitlines()
    ]
    assert len(notes) == 2 and "ALARM" in notes[0]["subject"] and "OK" in notes[1]["subject"]
    changes = [
        e
        for e in read_events(settings.workspace)
        if e["detail-type"] == "CloudWatch Alarm State Change"
    ]
    assert [e["detail"]["state"]["value"] for e in changes] == ["ALARM", "OK"]
    ran = [json.loads(line) for line in marker.read_text().splitlines()]
    assert len(ran) == 1 and ran[0]["detail"]["state"]["value"] == "ALARM"
    listed = _cli(home, "alarms", "history", "HighLatencyAlarm")
    assert listed.returncode == 0 and "ALARM" in listed.stdout
    series = _cli(
        home,
        "metrics",
        "get",
        "--endpoint",
        "churn",
        "--metric",
        "ModelLatency",
        "--stat",
        "p99",
        "--since",
        "1h",
        "--plot",
        str(tmp_path / "latency.png"),
    )
    assert series.returncode == 0, series.stderr
    assert (tmp_path / "latency.png").stat().st_size > 1000


def _delivered_to(settings: Settings) -> int:
    """How far (bytes) into the event log delivery has gone: the cursor in its database."""
    if not settings.workspace.delivery_db.is_file():
        return 0
    with closing(sqlite3.connect(settings.workspace.delivery_db)) as db:
        try:
            row = db.execute("SELECT offset FROM cursor WHERE id = 1").fetchone()
        except sqlite3.OperationalError:  # no table yet
            return 0
    return int(row[0]) if row else 0


def _agent_caught_up(settings: Settings, log: Path, notes: Path, notified: int, end: int) -> None:
    """Wait until the agent has started, ``notes`` holds ``notified`` notifications and delivery
    has read the event log up to ``end``: every event before it was delivered or passed over."""
    started = "the agent starting"
    wait_until(lambda: "agent started" in log.read_text(), 60, interval_s=0.2, what=started)

    def noted() -> bool:
        return notes.is_file() and len(notes.read_text().splitlines()) >= notified

    wait_until(noted, 60, interval_s=0.2, what=f"{notified} notifications in {notes.name}")
    what = f"the agent's delivery reading the event log to byte {end}"
    wait_until(lambda: _delivered_to(settings) >= end, 30, interval_s=0.2, what=what)


def test_agent_process_delivers_once_and_stops_on_sigterm(home: Path, tmp_path: Path) -> None:
    settings = settings_for(home)
    # The latency alarm of the test above would page "ops" too as real time moves on.
    assert _cli(home, "alarms", "delete", "HighLatencyAlarm").returncode == 0
    rule = _cli(
        home,
        "rules",
        "put",
        "notify-drift",
        "--event-pattern",
        json.dumps({"source": ["driftloop.monitoring"], "detail": {"dataset_drift": [True]}}),
        "--target",
        json.dumps({"type": "notify", "topic": "ops"}),
    )
    assert rule.returncode == 0, rule.stderr
    notes = settings.workspace.root / "notifications" / "ops.jsonl"
    before = len(notes.read_text().splitlines()) if notes.exists() else 0
    emit(
        settings.workspace,
        "driftloop.monitoring",
        "Monitoring Run Completed",
        {"dataset_drift": True},
    )
    emit(
        settings.workspace,
        "driftloop.monitoring",
        "Monitoring Run Completed",
        {"dataset_drift": False},
    )
    env = {**os.environ, **service_env(home)}
    for attempt in range(2):  # the second start must not deliver again
        # A marker no rule matches: once delivery is past it, any repeat would have happened.
        emit(settings.workspace, "driftloop.test", "Marker", {"attempt": attempt})
        end = settings.workspace.event_log.stat().st_size
        log = tmp_path / f"agent{attempt}.log"
        with log.open("wb") as handle:
            agent = subprocess.Popen(
                [DRIFTLOOP, "agent"],
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _agent_caught_up(settings, log, notes, before + 1, end)
        except BaseException:
            os.killpg(agent.pid, signal.SIGKILL)
            raise
        started = time.monotonic()
        os.killpg(agent.pid, signal.SIGTERM)
        assert agent.wait(15) == 0, log.read_text()[-2000:]
        assert time.monotonic() - started < 10
        assert "agent stopped" in log.read_text()
    assert len(notes.read_text().splitlines()) == before + 1
