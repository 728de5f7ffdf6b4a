"""Guarded deployments against a real server under steady client traffic."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from driftloop.alarms.definition import parse_alarm
from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.cli.deploy import register
from driftloop.config import Settings
from driftloop.data.generator import generate
from driftloop.deploy.guarded import DeployPlan, deploy
from driftloop.errors import ConfigError, RegistryError
from driftloop.events.log import read_events
from driftloop.registry.base import APPROVAL_TAG, APPROVED, CHAMPION, PENDING
from driftloop.registry.lifecycle import register_and_gate
from driftloop.serving.endpoint_config import EndpointConfig, Fault, Variant
from tests.servers import Server, post, start_server
from tests.waiting import wait_until
from tests.workspaces import endpoint_store, service_env, settings_for, trained

pytestmark = pytest.mark.slow
MODEL = "churn-model"
ALARM = "CandidateLatency"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 (champion) and v2 (the same model registered again, approved), endpoint churn on v1."""
    root = tmp_path_factory.mktemp("deploy")
    outcome = trained(root, seed=5)
    settings = settings_for(root)
    ws = settings.workspace
    assert outcome.best is not None
    registry = MlflowRegistry(ws)
    second = register_and_gate(registry, outcome.best, outcome.val, settings, "file:///none")
    registry.set_tags(MODEL, second.version.version, {APPROVAL_TAG: APPROVED})
    registry.set_alias(MODEL, CHAMPION, 1)
    variants = (Variant(name="AllTraffic", model="1"),)
    endpoint_store(ws).save(EndpointConfig(name="churn", model_name=MODEL, variants=variants))
    SqliteAlarmStore(ws.root / "alarms.db").put(
        parse_alarm(
            {
                "AlarmName": ALARM,
                "MetricName": "ModelLatency",
                "Namespace": "AWS/SageMaker",
                "Statistic": "Average",
                "Period": 10,
                "EvaluationPeriods": 1,
                "Threshold": 1000,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "churn"},
                    {"Name": "VariantName", "Value": "Candidate"},
                ],
                "AlarmActions": ["ops"],
            }
        )
    )
    return root


@pytest.fixture(scope="module")
def server(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "server.log"
    running = start_server(["churn", "--workers", "1"], service_env(home), log)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@dataclass
class Traffic:
    """Requests sent one after another from a thread; every status and variant recorded."""

    url: str
    answers: list[tuple[int, str | None]] = field(default_factory=list)
    first_seen: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        body = orjson.dumps(
            generate(1, seed=1).drop(columns=["customerID", "Churn"]).to_dict("records")[0]
        )
        while not self.stop.is_set():
            headers = {
                "content-type": "application/json",
                "accept": "application/json",
                "x-amzn-sagemaker-inference-id": uuid.uuid4().hex,
            }
            status, out, _ = post(f"{self.url}/invocations", body, headers)
            lowered = {key.lower(): value for key, value in out.items()}
            variant = lowered.get("x-amzn-invoked-production-variant")
            self.answers.append((status, variant))
            self.first_seen.setdefault(str(variant), time.time())
            time.sleep(0.01)  # pacing the client: about 100 requests a second

    def variants(self) -> set[str | None]:
        return {variant for _, variant in self.answers}

    def failures(self) -> list[int]:
        return [status for status, _ in self.answers if status != 200]


@pytest.fixture
def traffic(server: Server) -> Iterator[Traffic]:
    sender = Traffic(server.url)
    thread = threading.Thread(target=sender.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: sender.answers, 30, interval_s=0.05, what="the first answered request")
        yield sender
    finally:
        sender.stop.set()
        thread.join(30)


def _applied(server: Server, traffic: Traffic, revision: int) -> None:
    """Wait until the worker has applied ``revision`` (it logs each one) and answered again."""
    live = re.compile(rf"\brevision {revision} live\b")
    what = f"the worker applying revision {revision}"
    wait_until(lambda: live.search(server.log.read_text()), 10, what=what)
    answered = len(traffic.answers)
    wait_until(lambda: len(traffic.answers) > answered, 10, what="an answer after the revision")


def _champion(settings: Settings) -> int:
    found = MlflowRegistry(settings.workspace).get_by_alias(MODEL, CHAMPION)
    assert found is not None
    return found.version


def test_canary_of_a_healthy_version_completes_and_promotes(
    home: Path, server: Server, traffic: Traffic
) -> None:
    settings = settings_for(home)
    plan = DeployPlan(
        endpoint="churn",
        model="2",
        strategy="canary",
        canary_percent=30,
        bake_s=3,
        alarms=[ALARM],
        poll_s=0.5,
        topic="ops",
    )
    result = deploy(settings, plan)
    _applied(server, traffic, result.final_config.revision)

    assert result.status == "completed", result.reason
    assert [s["step"] for s in result.steps] == ["canary", "all-traffic", "completed"]
    assert result.steps[0]["weights"] == {"AllTraffic": 0.7, "Candidate": 0.3}
    assert {"AllTraffic", "Candidate"} <= traffic.variants()
    final = endpoint_store(settings.workspace).get("churn")
    assert final.revision == result.final_config.revision
    assert [(v.name, v.model, v.weight) for v in final.variants] == [("AllTraffic", "2", 1.0)]
    assert _champion(settings) == 2
    assert traffic.failures() == []
    notes = (settings.workspace.root / "notifications" / "ops.jsonl").read_text().splitlines()
    assert len(notes) == 3


def test_slow_canary_is_rolled_back_on_alarm(home: Path, server: Server, traffic: Traffic) -> None:
    settings = settings_for(home)
    store = endpoint_store(settings.workspace)
    before = store.get("churn")
    champion = _champion(settings)
    plan = DeployPlan(
        endpoint="churn",
        model="1",
        strategy="canary",
        canary_percent=50,
        bake_s=30,
        alarms=[ALARM],
        poll_s=0.3,
        fault=Fault(delay_ms=5),
    )
    started = time.monotonic()
    result = deploy(settings, plan)
    _applied(server, traffic, result.final_config.revision)

    assert result.status == "rolled_back"
    assert ALARM in result.reason
    # within one 10-second alarm period after the first complete one, plus flush and poll
    assert time.monotonic() - started < 25
    after = store.get("churn")
    assert after.variants == before.variants and after.revision == result.final_config.revision
    assert _champion(settings) == champion
    assert traffic.failures() == []
    steps = [e for e in read_events(settings.workspace) if e["detail-type"] == "Deployment Step"]
    assert steps[-1]["detail"]["step"] == "rolled_back"
    assert steps[-1]["source"] == "driftloop.deploy"
    assert SqliteAlarmStore(settings.workspace.root / "alarms.db").get(ALARM).state == "ALARM"


def test_shadow_never_answers_a_caller(home: Path, server: Server, traffic: Traffic) -> None:
    settings = settings_for(home)
    before = endpoint_store(settings.workspace).get("churn")
    plan = DeployPlan(endpoint="churn", model="1", strategy="shadow", bake_s=3, poll_s=0.5)
    result = deploy(settings, plan)
    _applied(server, traffic, result.final_config.revision)

    assert result.status == "shadowed"
    assert [s["step"] for s in result.steps] == ["shadow", "shadow-removed"]
    assert "Candidate" not in traffic.variants()
    assert traffic.failures() == []
    assert list((settings.workspace.capture / "churn" / "Candidate").rglob("*.jsonl"))
    report = result.report
    assert report is not None
    assert report["shadow_answers"] > 0 and report["matched_rows"] > 0
    assert report["mean_abs_probability_diff"] is not None
    assert report["shadow_model_latency_us"] is not None
    after = endpoint_store(settings.workspace).get("churn")
    assert after.shadow is None and after.variants == before.variants


def test_bad_plans_change_nothing(home: Path) -> None:
    settings = settings_for(home)
    store = endpoint_store(settings.workspace)
    revision = store.get("churn").revision
    with pytest.raises(ConfigError, match="no alarm named 'Nope'"):
        deploy(settings, DeployPlan(endpoint="churn", model="1", alarms=["Nope"]))
    registry = MlflowRegistry(settings.workspace)
    registry.set_tags(MODEL, 1, {APPROVAL_TAG: PENDING})
    try:
        with pytest.raises(RegistryError, match="only Approved"):
            deploy(settings, DeployPlan(endpoint="churn", model="1", bake_s=1))
    finally:
        registry.set_tags(MODEL, 1, {APPROVAL_TAG: APPROVED})
    assert store.get("churn").revision == revision


def test_cli_runs_a_linear_deployment_step_by_step(home: Path) -> None:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps `deploy` a subcommand
    args = ["deploy", "--endpoint", "churn", "--model", "1", "--strategy", "linear"]
    env = {**service_env(home), "COLUMNS": "200"}
    runner = CliRunner()
    linear = [*args, "--step", "50", "--interval", "1s", "--bake", "1s", "--no-promote"]
    done = runner.invoke(app, linear, env=env)
    assert done.exit_code == 0, done.output
    printed = [line.split(" ")[0] for line in done.output.splitlines()]
    assert printed[:3] == ["linear-50%", "all-traffic", "completed"], done.output
    final = endpoint_store(settings_for(home).workspace).get("churn")
    assert [(v.name, v.model) for v in final.variants] == [("AllTraffic", "1")]
    bad = runner.invoke(app, [*args, "--bake", "1s", "--alarm", "Nope"], env=env)
    assert isinstance(bad.exception, ConfigError)


def test_an_interrupted_deployment_is_undone(home: Path) -> None:
    settings = settings_for(home)
    store = endpoint_store(settings.workspace)
    before = store.get("churn")

    def interrupt(_seconds: float) -> None:
        raise KeyboardInterrupt

    plan = DeployPlan(endpoint="churn", model="2", bake_s=5, poll_s=1, promote=False)
    with pytest.raises(KeyboardInterrupt):
        deploy(settings, plan, sleep=interrupt)
    after = store.get("churn")
    assert after.variants == before.variants and after.revision == before.revision + 2
    steps = [e for e in read_events(settings.workspace) if e["detail-type"] == "Deployment Step"]
    assert [e["detail"]["step"] for e in steps[-2:]] == ["canary", "rolled_back"]
