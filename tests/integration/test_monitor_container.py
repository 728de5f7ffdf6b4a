"""The monitoring container end to end: a faked Processing job layout, the real entry point.

Traffic goes through the real data plane (so capture files are the endpoint's own, in SageMaker's
``{endpoint}/{variant}/yyyy/mm/dd/hh`` layout), the baseline is the one training registered, and
the analyzer runs as its own process with the contract's environment. Its verdicts must equal
those of the monitoring job (``run_monitoring``) on the same window.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from driftloop.backends.local.registry import MlflowRegistry
from driftloop.capture.writer import CaptureWriter
from driftloop.config import Settings, load_settings
from driftloop.data.generator import generate
from driftloop.data.spec import TabularSpec
from driftloop.monitoring.job import run_monitoring
from driftloop.monitoring.target import resolve_target
from driftloop.serving.dataplane import DataPlane, Invocation
from driftloop.serving.live import ModelCache
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.routing import build_table
from driftloop.validation import write_baseline
from tests.workspaces import churn_endpoint, endpoint_store

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
METRIC_KEYS = {"MetricName", "Timestamp", "Dimensions", "Value", "Unit"}


@dataclass(frozen=True)
class Traffic:
    """A trained endpoint and two captured windows: calm (JSON) and drifted (headerless CSV)."""

    settings: Settings
    calm: tuple[datetime, datetime]
    drifted: tuple[datetime, datetime]


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    root = tmp_path_factory.mktemp("container")
    settings = churn_endpoint(load_settings(home=root / ".driftloop"), root)
    features = resolve_target(settings, "churn").spec.features
    calm_start = _next_second()
    json_bodies = [orjson.dumps(chunk) for chunk in _chunks(generate(600, seed=21)[features], 3)]
    _send(settings, json_bodies, "application/json")
    drift_start = _next_second()
    hot = generate(600, seed=22, scenario="price_rise", strength=2.0)[features]
    csv_bodies = [chunk.to_csv(header=False, index=False).encode() for chunk in _parts(hot, 20)]
    _send(settings, csv_bodies, "text/csv")
    end = _next_second()
    return Traffic(settings, (calm_start, drift_start), (drift_start, end))


def _chunks(frame: pd.DataFrame, size: int) -> list[list[dict[str, Any]]]:
    records = frame.to_dict(orient="records")
    return [records[i : i + size] for i in range(0, len(records), size)]


def _parts(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def _send(settings: Settings, bodies: list[bytes], content_type: str) -> None:
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

    async def send_all() -> None:
        for number, body in enumerate(bodies):
            await plane.invoke(Invocation(body, content_type, inference_id=f"r{number}"))

    asyncio.run(send_all())
    plane.capture.close()  # type: ignore[union-attr]


def _next_second() -> datetime:
    """Wait for the next whole second: capture times have one-second resolution."""
    now = datetime.now(UTC)
    start = now.replace(microsecond=0) + timedelta(seconds=1)
    time.sleep((start - now).total_seconds())  # time itself, not an event: no wait_until
    return start


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Job:
    """A Processing job's folders, as Model Monitor lays them out, under a test folder."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "processing" / "input" / "endpoint"

    @property
    def output(self) -> Path:
        return self.root / "processing" / "output"

    @property
    def ml_output(self) -> Path:
        return self.root / "ml" / "output"

    @property
    def metrics(self) -> Path:
        return self.ml_output / "metrics" / "cloudwatch" / "metrics.jsonl"

    @property
    def message(self) -> str:
        return (self.ml_output / "message").read_text(encoding="utf-8")

    def violations(self) -> list[dict[str, str]]:
        found: list[dict[str, str]] = json.loads(
            (self.output / "constraint_violations.json").read_text()
        )["violations"]
        return found

    def json(self, name: str) -> Any:
        return json.loads((self.output / name).read_text())


def _job(traffic: Traffic, root: Path) -> Job:
    """Copy the endpoint's capture and the version's baseline where the platform puts them."""
    job = Job(root)
    shutil.copytree(traffic.settings.workspace.capture / "churn", job.source / "churn")
    baseline = resolve_target(traffic.settings, "churn").baseline
    stats = root / "processing" / "baseline" / "stats" / "statistics.json"
    constraints = root / "processing" / "baseline" / "constraints" / "constraints.json"
    for source, copy in (
        (baseline.statistics_path, stats),
        (baseline.constraints_path, constraints),
    ):
        copy.parent.mkdir(parents=True)
        shutil.copyfile(source, copy)
    return job


def _environment(job: Job, window: tuple[datetime, datetime], **extra: str) -> dict[str, str]:
    """The contract's variables, as a monitoring schedule sets them."""
    capture_format = {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput"]}}
    return {
        "dataset_format": json.dumps(capture_format),
        "dataset_source": str(job.source),
        "start_time": _iso(window[0]),
        "end_time": _iso(window[1]),
        "metric_time": _iso(window[0]),
        "output_path": str(job.output),
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": "churn",
        "sagemaker_monitoring_schedule_name": "churn-schedule",
        "baseline_statistics": str(job.root / "processing/baseline/stats/statistics.json"),
        "baseline_constraints": str(job.root / "processing/baseline/constraints/constraints.json"),
        "SM_OUTPUT_DIR": str(job.ml_output),
        **extra,
    }


def _entry_point() -> list[str]:
    """The console script pyproject declares for the monitoring container, as a command."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, function = scripts["monitor-analyze"].split(":")
    return [
        sys.executable,
        "-c",
        f"import sys; from {module} import {function}; sys.exit({function}())",
    ]


def _analyze(
    job: Job, env: dict[str, str], drop: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the entry point the way the Processing job does: a fresh process, the contract's env."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    full = {**base, "DRIFTLOOP_HOME": str(job.root / "home"), "COLUMNS": "200", **env}
    for name in drop:
        full.pop(name, None)
    return subprocess.run(
        _entry_point(),
        env=full,
        cwd=job.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _metrics(job: Job) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in job.metrics.read_text().splitlines()]
    return {line["MetricName"]: line for line in lines}


def test_drifted_window_matches_the_monitoring_job(traffic: Traffic, tmp_path: Path) -> None:
    job = _job(traffic, tmp_path)
    done = _analyze(job, _environment(job, traffic.drifted))
    assert done.returncode == 0, done.stderr
    assert "CompletedWithViolations: 600 rows from 30 capture records of churn" in done.stdout

    oracle = run_monitoring(traffic.settings, "churn", *traffic.drifted, report=False)
    assert oracle.rows == 600 and oracle.problems == []
    assert job.violations() == oracle.violations  # same checks, same order, same wording
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in job.violations()}
    assert ("MonthlyCharges", "baseline_drift_check") in checks
    assert job.json("statistics.json") == json.loads(
        (oracle.folder / "statistics.json").read_text()
    )
    assert job.json("statistics.json")["dataset"]["item_count"] == 600
    summary = job.json("run.json")
    assert summary["status"] == "CompletedWithViolations" and summary["problems"] == 0
    assert summary["baseline_drift"] == oracle.quality["baseline_drift"]
    assert job.message.startswith("CompletedWithViolations: 600 rows")

    # The CloudWatch file: one PutMetricData-shaped line per metric, with the job's names.
    metrics = _metrics(job)
    dimensions = [
        {"Name": "Endpoint", "Value": "churn"},
        {"Name": "MonitoringSchedule", "Value": "churn-schedule"},
    ]
    for line in metrics.values():
        assert set(line) == METRIC_KEYS, line
        assert line["Timestamp"] == _iso(traffic.drifted[0])
        assert line["Dimensions"] == dimensions
        assert isinstance(line["Value"], float)
    assert metrics["violations"]["Value"] == len(oracle.violations)
    assert metrics["violations"]["Unit"] == "Count"
    assert metrics["captured_rows"]["Value"] == 600 and metrics["input_problems"]["Value"] == 0
    for feature, distance in oracle.quality["baseline_drift"].items():
        assert metrics[f"feature_baseline_drift_{feature}"]["Value"] == distance
    assert metrics["feature_baseline_drift_MonthlyCharges"]["Value"] > 0.1
    assert len(metrics) == 3 + len(oracle.quality["baseline_drift"])


def test_calm_window_has_no_violations_and_metrics_only_when_enabled(
    traffic: Traffic, tmp_path: Path
) -> None:
    job = _job(traffic, tmp_path)
    done = _analyze(job, _environment(job, traffic.calm, publish_cloudwatch_metrics="Disabled"))
    assert done.returncode == 0, done.stderr
    oracle = run_monitoring(traffic.settings, "churn", *traffic.calm, report=False)
    assert oracle.rows == 600 and oracle.violations == []
    assert job.violations() == []
    assert job.json("statistics.json") == json.loads(
        (oracle.folder / "statistics.json").read_text()
    )
    assert job.json("run.json")["status"] == "Completed"
    assert not job.metrics.exists() and not job.metrics.parent.exists()
    assert job.message.startswith("Completed: 600 rows from 200 capture records of churn")


def test_torn_capture_line_is_counted_and_reported(traffic: Traffic, tmp_path: Path) -> None:
    job = _job(traffic, tmp_path)
    hour = traffic.calm[0].strftime("%Y/%m/%d/%H")
    last = sorted((job.source / "churn" / "AllTraffic" / hour).glob("*.jsonl"))[-1]
    whole = last.read_bytes().splitlines()[-1]
    with last.open("ab") as handle:  # a worker killed mid-write: half a record, no newline
        handle.write(whole[: len(whole) // 2])
    done = _analyze(job, _environment(job, traffic.calm))
    assert done.returncode == 0, done.stderr
    summary = job.json("run.json")
    assert summary["rows"] == 600 and summary["records"] == 201 and summary["problems"] == 1
    problem = summary["problem_list"][0]
    assert problem["file"].endswith(last.name) and problem["reason"].startswith("not JSON")
    assert _metrics(job)["input_problems"]["Value"] == 1.0
    assert "1 capture line(s) not usable" in job.message and last.name in job.message
    assert "(not JSON)" in job.message
    assert job.violations() == []


def test_bad_contract_fails_with_one_sentence(traffic: Traffic, tmp_path: Path) -> None:
    job = _job(traffic, tmp_path)
    env = _environment(job, traffic.calm)

    missing = _analyze(job, env, drop=("start_time",))
    assert missing.returncode == 2
    assert "the environment variable start_time" in missing.stderr
    assert "is not set" in missing.stderr and "Traceback" not in missing.stderr
    assert job.message.startswith("Failed: the environment variable start_time")
    assert not job.output.exists()

    gone = str(tmp_path / "nowhere" / "statistics.json")
    no_baseline = _analyze(job, {**env, "baseline_statistics": gone})
    assert no_baseline.returncode == 4
    assert f"baseline_statistics names {gone}, which is not a file" in no_baseline.stderr
    assert job.message == f"Failed: baseline_statistics names {gone}, which is not a file\n"

    batch = _analyze(job, {**env, "dataset_format": '{"csv": {"header": true}}'})
    assert batch.returncode == 2 and "dataset_format" in batch.stderr
    assert "not supported" in job.message

    switch = _analyze(job, {**env, "publish_cloudwatch_metrics": "yes"})
    assert switch.returncode == 2
    assert "publish_cloudwatch_metrics is 'yes', not Enabled or Disabled" in switch.stderr
    assert not job.output.exists()


def test_window_without_traffic_completes_empty(traffic: Traffic, tmp_path: Path) -> None:
    job = _job(traffic, tmp_path)
    far = datetime(2001, 1, 1, tzinfo=UTC)
    done = _analyze(job, _environment(job, (far, far + timedelta(hours=1))))
    assert done.returncode == 0, done.stderr
    assert job.violations() == [] and not (job.output / "statistics.json").exists()
    assert job.json("run.json")["status"] == "EmptyWindow"
    assert _metrics(job)["captured_rows"]["Value"] == 0.0
    assert job.message.startswith("EmptyWindow: 0 rows from 0 capture records of churn")


def test_baseline_of_the_inputs_alone(traffic: Traffic, tmp_path: Path) -> None:
    """A baseline without the target (as Model Monitor suggests one from the endpoint's inputs)
    reads the same requests and finds the same violations."""
    job = _job(traffic, tmp_path)
    target = resolve_target(traffic.settings, "churn")
    inputs = TabularSpec(
        tuple(c for c in target.spec.columns if c.role == "feature"),
        target.spec.target,
        target.spec.positive_label,
    )
    folder = tmp_path / "inputs-baseline"
    write_baseline(target.reference()[inputs.features], inputs, folder)
    assert target.spec.target not in (folder / "statistics.json").read_text()
    env = _environment(
        job,
        traffic.drifted,
        baseline_statistics=str(folder / "statistics.json"),
        baseline_constraints=str(folder / "constraints.json"),
    )
    done = _analyze(job, env)
    assert done.returncode == 0, done.stderr
    oracle = run_monitoring(traffic.settings, "churn", *traffic.drifted, report=False)
    assert job.violations() == oracle.violations
    assert job.json("run.json")["baseline_drift"] == oracle.quality["baseline_drift"]
