"""``python deploy.py``, the release step of CI/CD, as a pipeline runs it: a subprocess on a
trained workspace whose endpoint ``churn`` serves v1.

v2 is v1's model registered again; v3 is the same pipeline with NaN coefficients (a corrupted
model: it loads and answers, but every probability is NaN). Each test sets which versions are
Approved and what the endpoint serves before it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pytest

from driftloop.alarms.definition import parse_alarm
from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.registry.base import APPROVAL_TAG, APPROVED, CHAMPION, PENDING
from driftloop.serving.endpoint_config import EndpointConfig, Variant
from driftloop.training import candidates, tracking
from tests.servers import Server, start_server
from tests.workspaces import endpoint_store, service_env, settings_for, trained

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
MODEL, ENDPOINT = "churn-model", "churn"
NO_TRAFFIC = "CanaryGetsNoTraffic"
FAST = ["--strategy", "canary", "--canary-percent", "50", "--bake", "1s", "--poll", "200ms"]


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 (trained), v2 (v1's model again), v3 (corrupted), endpoint churn, and an alarm that a
    canary nobody sends traffic to sets off: the canary variant's invocations over 10 s, with
    missing data breaching."""
    root = tmp_path_factory.mktemp("release")
    trained(root, seed=5)
    ws = settings_for(root).workspace
    registry = MlflowRegistry(ws)
    first = registry.get_version(MODEL, 1)
    registry.create_version(MODEL, first.source, first.run_id, dict(first.tags))
    pipeline = registry.load_model(MODEL, 1)
    pipeline.named_steps["model"].coef_[:] = np.nan
    metadata = mlflow.models.get_model_info(f"models:/{MODEL}/1").metadata
    with mlflow.start_run(experiment_id=tracking.experiment_id(ws, "corrupted")) as run:
        logged = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            serialization_format="skops",
            skops_trusted_types=candidates.TRUSTED_TYPES["logistic_regression"],
            pip_requirements=candidates.requirements("logistic_regression"),
            metadata=metadata,
        )
    registry.create_version(MODEL, logged.model_uri, run.info.run_id, dict(first.tags))
    SqliteAlarmStore(ws.root / "alarms.db").put(
        parse_alarm(
            {
                "AlarmName": NO_TRAFFIC,
                "MetricName": "Invocations",
                "Namespace": "AWS/SageMaker",
                "Statistic": "Sum",
                "Period": 10,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "LessThanThreshold",
                "TreatMissingData": "breaching",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": ENDPOINT},
                    {"Name": "VariantName", "Value": "Candidate"},
                ],
            }
        )
    )
    _given(root, serving=1, approved={1})
    return root


def _given(home: Path, *, serving: int, approved: set[int]) -> EndpointConfig:
    """Only ``approved`` versions are Approved; the endpoint and the champion are ``serving``."""
    ws = settings_for(home).workspace
    registry = MlflowRegistry(ws)
    for version in registry.list_versions(MODEL):
        status = APPROVED if version.version in approved else PENDING
        registry.set_tags(MODEL, version.version, {APPROVAL_TAG: status})
    registry.set_alias(MODEL, CHAMPION, serving)
    variants = (Variant(name="AllTraffic", model=str(serving)),)
    config = EndpointConfig(name=ENDPOINT, model_name=MODEL, variants=variants)
    return endpoint_store(ws).save(config)


def _deploy(home: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    done = subprocess.run(
        [sys.executable, str(REPO / "deploy.py"), *args],
        cwd=home,
        env={**clean, **service_env(home), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def _served(home: Path) -> EndpointConfig:
    return endpoint_store(settings_for(home).workspace).get(ENDPOINT)


def _champion(home: Path) -> int | None:
    found = MlflowRegistry(settings_for(home).workspace).get_by_alias(MODEL, CHAMPION)
    return None if found is None else found.version


@pytest.fixture
def server(home: Path, tmp_path: Path) -> Iterator[Server]:
    running = start_server([ENDPOINT, "--workers", "1"], service_env(home), tmp_path / "log")
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def _smoke_ids(home: Path) -> list[str]:
    """The inference ids of the captured requests that were smoke requests."""
    ids = []
    for path in (settings_for(home).workspace.capture / ENDPOINT).rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            found = json.loads(line)["eventMetadata"].get("inferenceId") or ""
            ids += [found] if found.startswith("release-smoke-") else []
    return ids


def test_the_latest_approved_version_is_deployed_and_answers_through_the_running_server(
    home: Path, server: Server, tmp_path: Path
) -> None:
    _given(home, serving=1, approved={1, 2})  # v3 is newer, but not approved
    report = tmp_path / "reports" / "release.json"
    env = {"DRIFTLOOP_SERVING__PORT": str(server.port)}
    run = _deploy(home, "--endpoint", ENDPOINT, *FAST, "--report", str(report), env=env)

    assert run.code == 0, run.err
    steps = [line.split(" ")[0] for line in run.out.splitlines()[:3]]
    assert steps == ["canary", "all-traffic", "completed"], run.out
    assert "completed: all traffic on v2 (champion)" in run.out
    assert f"smoke test passed: 5 rows through http://127.0.0.1:{server.port}" in run.out
    assert "answered by AllTraffic (v2)" in run.out
    served = _served(home)
    assert [(v.name, v.model, v.weight) for v in served.variants] == [("AllTraffic", "2", 1.0)]
    assert _champion(home) == 2
    [smoke] = _smoke_ids(home)  # sent once, captured by the server like any request
    assert smoke.startswith("release-smoke-v2-")
    written = json.loads(report.read_text())
    assert (written["status"], written["version"], written["action"]) == (
        "released",
        2,
        "completed",
    )
    assert [s["step"] for s in written["steps"]] == ["canary", "all-traffic", "completed"]
    assert len(written["smoke"]["probabilities"]) == 5
    assert all(0 <= p <= 1 for p in written["smoke"]["probabilities"])


def test_a_version_already_served_is_left_alone_and_answers_in_process(home: Path) -> None:
    before = _given(home, serving=2, approved={2})
    run = _deploy(home, "--endpoint", ENDPOINT, *FAST)
    assert run.code == 0, run.err
    assert "unchanged: churn already sends all its traffic to v2" in run.out
    assert "smoke test passed: 5 rows through the endpoint's data plane" in run.out
    assert _served(home).revision == before.revision


def test_nothing_approved_is_one_sentence_and_changes_nothing(home: Path, tmp_path: Path) -> None:
    before = _given(home, serving=1, approved=set())
    report = tmp_path / "release.json"
    run = _deploy(home, "--endpoint", ENDPOINT, *FAST, "--report", str(report))
    assert run.code == 4
    assert run.err.strip().splitlines()[-1] == (
        "error: churn-model has no Approved version to deploy: approve one with `driftloop "
        "models approve VERSION` (or its model package in SageMaker's model registry)"
    )
    assert _served(home).revision == before.revision
    written = json.loads(report.read_text())
    assert (written["status"], written["exit_code"]) == ("failed", 4)
    assert written["error"]["code"] == "model_not_found"

    missing = _deploy(home, "--endpoint", "nope")
    assert missing.code == 4
    assert "error: endpoint 'nope' does not exist: create it once" in missing.err


def test_an_alarm_in_alarm_rolls_the_release_back_exit_9(home: Path) -> None:
    before = _given(home, serving=1, approved={1, 2})
    run = _deploy(home, "--endpoint", ENDPOINT, *FAST, "--alarm", NO_TRAFFIC)
    assert run.code == 9, run.err
    last = run.err.strip().splitlines()[-1]
    assert last.startswith(f"error: deployment of v2 to churn rolled back: alarm {NO_TRAFFIC} ")
    assert "went to ALARM" in last
    served = _served(home)
    assert served.variants == before.variants and served.revision == before.revision + 2
    assert _champion(home) == 1
    assert "smoke test" not in run.out + run.err


def test_a_model_that_answers_garbage_fails_the_smoke_test(home: Path) -> None:
    _given(home, serving=1, approved={1, 3})
    run = _deploy(home, "--endpoint", ENDPOINT, *FAST)
    assert run.code == 1
    assert run.err.strip().splitlines()[-1] == (
        "error: smoke test of churn-model v3 on endpoint 'churn' failed: row 1's probability "
        "is null, not a number in [0, 1]; the endpoint serves v3; `driftloop deploy --endpoint "
        "churn --model 1` brings back v1"
    )
    assert [v.model for v in _served(home).variants] == ["3"]
