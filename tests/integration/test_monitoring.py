"""A monitoring run end to end: captures made by the real data plane, a real trained model."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pandas as pd
import pytest

from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.capture.labels import ingest_labels, labels_root
from driftloop.capture.writer import CaptureWriter
from driftloop.config import Settings, load_settings
from driftloop.data.generator import generate
from driftloop.events.log import read_events
from driftloop.monitoring.job import DATA_NAMESPACE, run_monitoring
from driftloop.monitoring.schedule import job_lock, run_locked, run_schedule
from driftloop.serving.dataplane import DataPlane, Invocation
from driftloop.serving.live import ModelCache
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.routing import build_table
from tests.servers import DRIFTLOOP
from tests.workspaces import churn_endpoint, endpoint_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("monitoring")
    return churn_endpoint(load_settings(home=root / ".driftloop"), root)


def _send(settings: Settings, frame: pd.DataFrame, prefix: str, batch: int = 1) -> list[str]:
    """Invoke the endpoint's data plane in-process; every request is captured."""
    ws = settings.workspace
    table = build_table(endpoint_store(ws).get("churn"), ModelCache(MlflowRegistry(ws)).load)
    plane = DataPlane(
        table,
        EndpointMetrics("churn", None),
        CaptureWriter(ws.capture, "churn"),
        max_rows=10_000,
        timeout_s=60,
    )
    records = frame.drop(columns=["customerID", "Churn"]).to_dict(orient="records")
    ids = []

    async def send_all() -> None:
        for start in range(0, len(records), batch):
            inference_id = f"{prefix}-{start}"
            chunk = records[start : start + batch]
            body = orjson.dumps(chunk[0] if batch == 1 else chunk)
            await plane.invoke(Invocation(body, "application/json", inference_id=inference_id))
            ids.append(inference_id)

    asyncio.run(send_all())
    plane.capture.close()  # type: ignore[union-attr]
    return ids


def _next_second() -> datetime:
    """Wait for the next whole second: capture times have one-second resolution."""
    now = datetime.now(UTC)
    start = now.replace(microsecond=0) + timedelta(seconds=1)
    time.sleep((start - now).total_seconds())  # time itself, not an event: no wait_until
    return start


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=5), now + timedelta(minutes=1)


def test_undrifted_then_drifted_traffic(trained: Settings, tmp_path: Path) -> None:
    since, _ = _window()
    _send(trained, generate(600, seed=21), "calm", batch=3)
    calm = run_monitoring(trained, "churn", since, _window()[1])
    assert calm.rows == 600 and calm.problems == []
    assert calm.drift is not None and not calm.drift.dataset_drift
    for name in (
        "statistics.json",
        "constraint_violations.json",
        "drift.json",
        "run.json",
        "report.html",
    ):
        assert (calm.folder / name).is_file(), name
    statistics = json.loads((calm.folder / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 600
    assert "estimated_quality" in calm.quality

    later = _next_second()
    drifted = generate(600, seed=22, scenario="price_rise", strength=2.0)
    ids = _send(trained, drifted, "hot")
    run = run_monitoring(trained, "churn", later, _window()[1])
    assert run.rows == 600
    by_name = {c.column: c for c in run.drift.columns}
    assert by_name["MonthlyCharges"].drifted and by_name["TotalCharges"].drifted
    assert not by_name["gender"].drifted
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in run.violations}
    assert ("MonthlyCharges", "baseline_drift_check") in checks

    labels = tmp_path / "labels.csv"
    pd.DataFrame({"inference_id": ids, "label": drifted["Churn"]}).to_csv(labels, index=False)
    ingest_labels(trained.workspace, "churn", labels, run_target_spec(trained))
    labelled = run_monitoring(trained, "churn", later, _window()[1], report=False)
    quality = labelled.quality["model_quality"]
    assert labelled.quality["labelled_rows"] == 600
    assert 0.5 < quality["roc_auc"] <= 1.0
    # Model Monitor's offsets: judge only captures from 2 h to 1 h before the run's end.
    monitoring = trained.monitoring.model_copy(
        update={"label_start_offset": timedelta(hours=-2), "label_end_offset": timedelta(hours=-1)}
    )
    offset = trained.model_copy(update={"monitoring": monitoring})
    early = run_monitoring(offset, "churn", later, _window()[1], report=False)
    assert early.quality["labelled_rows"] == 0 and "labelled_window" in early.quality

    store = SqliteMetricStore(trained.workspace.metrics_db)
    points = store.get_metric_data(
        DATA_NAMESPACE,
        "feature_baseline_drift_MonthlyCharges",
        {"Endpoint": "churn", "MonitoringSchedule": "churn-monitoring"},
    )
    assert points and max(p.max for p in points) > 0.1
    events = [
        e for e in read_events(trained.workspace) if e["detail-type"] == "Monitoring Run Completed"
    ]
    assert len(events) == 4
    # Two of 19 features drift: below Evidently's share of 0.5, so no dataset drift.
    assert events[1]["detail"]["drifted_columns"] == ["MonthlyCharges", "TotalCharges"]
    assert events[1]["detail"]["dataset_drift"] is False


def run_target_spec(settings: Settings):  # type: ignore[no-untyped-def]
    from driftloop.monitoring.target import resolve_target

    return resolve_target(settings, "churn").spec


def test_empty_window_and_bad_lines_are_reported_not_fatal(trained: Settings) -> None:
    far, started = datetime(2001, 1, 1, tzinfo=UTC), int(time.time())
    empty = run_monitoring(trained, "churn", far, far + timedelta(hours=1))
    assert empty.status == "EmptyWindow" and empty.drift is None
    # Stamped when the run completed, not at its window's end: an alarm watching now sees it.
    dims = {"Endpoint": "churn", "MonitoringSchedule": "churn-monitoring"}
    store = SqliteMetricStore(trained.workspace.metrics_db)
    stamped = store.get_metric_data(DATA_NAMESPACE, "captured_rows", dims, since=started // 10 * 10)
    assert any(point.min == 0.0 for point in stamped)  # the only run with no rows
    assert not store.get_metric_data(
        DATA_NAMESPACE, "captured_rows", dims, until=int(far.timestamp()) + 7200
    )
    assert json.loads((empty.folder / "run.json").read_text())["status"] == "EmptyWindow"

    since = _next_second()
    _send(trained, generate(50, seed=5), "ok")
    hour = since.strftime("%Y/%m/%d/%H")
    broken = trained.workspace.capture / "churn" / "AllTraffic" / hour / "broken.jsonl"
    broken.write_text('not json\n{"captureData": {}}\n')
    torn = labels_root(trained.workspace) / "churn" / hour / "59-59-000-torn.jsonl"
    torn.parent.mkdir(parents=True, exist_ok=True)
    torn.write_text('{"groundTruthData": {"data": "1", "encod')  # a stored label, torn
    try:
        run = run_monitoring(trained, "churn", since, _window()[1], report=False)
    finally:
        torn.unlink()
    assert run.rows == 50
    assert {p["line"] for p in run.problems if p["file"].endswith("broken.jsonl")} == {1, 2}
    assert [p["line"] for p in run.problems if p["file"] == str(torn)] == [1]
    account = json.loads((run.folder / "run.json").read_text())
    assert account["problems"] == 3 and account["problem_kinds"]["label line"] == 1


def test_monitor_and_labels_commands(trained: Settings, tmp_path: Path) -> None:
    env = {**os.environ, "DRIFTLOOP_HOME": str(trained.home), "COLUMNS": "200"}
    since = _next_second()
    ids = _send(trained, generate(120, seed=8), "cli")
    labels = tmp_path / "truth.jsonl"
    lines = [
        {
            "groundTruthData": {"data": "1" if i % 3 == 0 else "0", "encoding": "CSV"},
            "eventMetadata": {"eventId": f"e-{i}", "inferenceId": inference_id},
            "eventVersion": "0",
        }
        for i, inference_id in enumerate(ids)
    ]
    labels.write_text("".join(json.dumps(line) + "\n" for line in lines))
    put = subprocess.run(
        [DRIFTLOOP, "labels", "put", str(labels), "--endpoint", "churn"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert put.returncode == 0, put.stderr
    done = subprocess.run(
        [
            DRIFTLOOP,
            "monitor",
            "run",
            "--endpoint",
            "churn",
            "--since",
            since.isoformat(),
            "--no-report",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Drift" in done.stdout and "MonthlyCharges" in done.stdout
    assert "model quality (labelled)" in done.stdout
    assert "120 rows from" in done.stdout
    bad = subprocess.run(
        [DRIFTLOOP, "monitor", "run", "--endpoint", "nope"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 4 and "endpoint 'nope' does not exist" in bad.stderr


def test_schedule_survives_failures_and_never_overlaps(trained: Settings) -> None:
    stop = threading.Event()
    runs: list[object] = []
    threading.Timer(3.5, stop.set).start()
    ok = run_schedule(trained, "churn", timedelta(seconds=1), stop=stop, on_run=runs.append)
    assert ok >= 2 and len(runs) == ok
    stop = threading.Event()
    threading.Timer(2.5, stop.set).start()
    assert run_schedule(trained, "missing", timedelta(seconds=1), stop=stop) == 0  # failures logged
    with job_lock(trained.workspace.monitoring, "churn-default") as held:
        assert held
        now = datetime.now(UTC)
        assert run_locked(trained, "churn", now - timedelta(minutes=1), now) is None
