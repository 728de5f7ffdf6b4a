"""The agent killed with SIGKILL mid-retrain and mid-deployment, then started again: the retrain
is carried out exactly once, and the deployment is rolled back, with a real endpoint serving.

The tests share one workspace and run in file order; each counts what it adds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import orjson
import pandas as pd
import pytest

from driftloop.backends.catalog import Backends
from driftloop.capture.labels import ingest_labels
from driftloop.config import Settings
from driftloop.data.generator import generate
from driftloop.deploy.journal import DeployJournal
from driftloop.events.log import read_events
from driftloop.monitoring.target import resolve_target
from driftloop.pipelines.store import EXECUTING, SUCCEEDED, PipelineStore, RunRecord
from driftloop.pipelines.training import PIPELINE_RUN_TAG
from driftloop.registry.base import APPROVED, CHALLENGER, CHAMPION
from driftloop.retraining.ledger import COMPLETED, RUNNING, Claim, Ledger
from driftloop.retraining.pipeline import PAUSE_ENV
from driftloop.serving.endpoint_config import EndpointConfig, Variant
from tests.dataplane import data_plane, invoke_each
from tests.servers import DRIFTLOOP, post, start_server
from tests.waiting import wait_until
from tests.workspaces import emit, endpoint_store, service_env, settings_for, trained

pytestmark = pytest.mark.slow
ENDPOINT = "churn"
MODEL = "churn-model"
FAULTS_TOML = """
[agent]
tick = "300ms"
[gate]
min_metrics = {roc_auc = 0.55}
[retrain]
history = "sliding"
window = "P1D"
min_labels = 50
cooldown = "0s"
max_per_day = 50
[[rules]]
name = "retrain-on-request"
event_pattern = {source = ["driftloop.test"]}
targets = [{type = "retrain"}]
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 champion behind ``churn`` and 1,500 labelled requests of concept-shifted traffic."""
    root = tmp_path_factory.mktemp("faults")
    trained(root, seed=21, extra_toml=FAULTS_TOML)
    settings = settings_for(root)
    variants = (Variant(name="AllTraffic", model="1"),)
    endpoint_store(settings.workspace).save(
        EndpointConfig(name=ENDPOINT, model_name=MODEL, variants=variants)
    )
    shifted = generate(1500, seed=22, scenario="concept_shift", strength=2.0)
    records = shifted.drop(columns=["customerID", "Churn"]).to_dict(orient="records")
    ids = invoke_each(data_plane(settings, ENDPOINT), records, "shifted")
    labels = root / "labels.csv"
    pd.DataFrame({"inference_id": ids, "label": shifted["Churn"]}).to_csv(labels, index=False)
    spec = resolve_target(settings, ENDPOINT).spec
    ingest_labels(settings.workspace, ENDPOINT, labels, spec)
    return root


class AgentProcess:
    """``driftloop agent`` on the workspace, in its own session, logging to a file."""

    def __init__(self, root: Path, log: Path, extra_env: dict[str, str] | None = None) -> None:
        self.log = log
        env = {**os.environ, **service_env(root), **(extra_env or {})}
        with log.open("wb") as handle:
            self.process = subprocess.Popen(
                [DRIFTLOOP, "agent"],
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid

    def alive(self) -> bool:
        code = self.process.poll()
        assert code is None, f"the agent exited with {code}: {self.tail()}"
        return True

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a power cut would."""
        with contextlib.suppress(ProcessLookupError):  # it may have died by itself
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        os.killpg(self.pid, signal.SIGTERM)
        try:
            assert self.process.wait(60) == 0, self.tail()
        except subprocess.TimeoutExpired:
            self.kill()
            raise


def _request_retrain(settings: Settings) -> str:
    event = emit(settings.workspace, "driftloop.test", "Retrain Requested", {"endpoint": ENDPOINT})
    return str(event["id"])


def _claim(settings: Settings, event_id: str) -> Claim | None:
    found = [c for c in Ledger(settings.workspace.retrain_db).claims() if c.event_id == event_id]
    assert len(found) <= 1, found
    return found[0] if found else None


def _settled(settings: Settings, event_id: str) -> Claim | None:
    claim = _claim(settings, event_id)
    return claim if claim is not None and claim.status != RUNNING else None


def _runs_of(settings: Settings, claim: Claim) -> list[RunRecord]:
    runs = PipelineStore(settings.workspace).list_runs(100)
    return [r for r in runs if r.params.get("retrain_claim") == claim.id]


def _versions(settings: Settings) -> list[int]:
    return [v.version for v in Backends.from_settings(settings).registry.list_versions(MODEL)]


def _retrain_events(settings: Settings, claim: Claim) -> list[str]:
    return [
        e["detail-type"]
        for e in read_events(settings.workspace)
        if e["source"] == "driftloop.retrain" and e["detail"].get("claim") == claim.id
    ]


def _training_step_running(settings: Settings, agent: AgentProcess) -> bool:
    agent.alive()
    store = PipelineStore(settings.workspace)
    for run in store.list_runs(5):
        if run.pipeline == "retraining" and run.status == EXECUTING:
            steps = {s.step: s.status for s in store.steps(run.run_id)}
            if steps.get("train") == EXECUTING:
                return True
    return False


def _resumed_once(settings: Settings, event_id: str, log: Path) -> Claim:
    """Start the agent again, wait for the claim of ``event_id`` to settle, stop the agent."""
    agent = AgentProcess(settings.workspace.root.parent, log)
    try:
        what = "the restarted agent settling the interrupted retrain"
        claim = wait_until(lambda: agent.alive() and _settled(settings, event_id), 300, what=what)
    except BaseException:
        agent.kill()
        raise
    agent.stop()
    return claim


def test_a_retrain_killed_mid_training_is_resumed_once(home: Path, tmp_path: Path) -> None:
    settings = settings_for(home)
    before = _versions(settings)
    event_id = _request_retrain(settings)
    agent = AgentProcess(home, tmp_path / "agent1.log")
    try:
        what = "the agent's retraining pipeline running its train step"
        wait_until(lambda: _training_step_running(settings, agent), 120, interval_s=0.05, what=what)
    finally:
        agent.kill()
    killed = _claim(settings, event_id)
    assert killed is not None and killed.status == RUNNING and killed.owner.pid == agent.pid
    assert _versions(settings) == before  # nothing registered yet

    claim = _resumed_once(settings, event_id, tmp_path / "agent2.log")

    (new,) = set(_versions(settings)) - set(before)
    assert claim.status == COMPLETED and claim.attempts == 2 and claim.id == killed.id
    (run,) = _runs_of(settings, claim)  # the killed run, resumed, not a second one
    assert run.status == SUCCEEDED
    version = Backends.from_settings(settings).registry.get_version(MODEL, new)
    assert version.tags[PIPELINE_RUN_TAG] == run.run_id
    steps = {s.step: s for s in PipelineStore(settings.workspace).steps(run.run_id)}
    assert steps["train"].attempt == 2 and steps["ingest"].attempt == 1  # ingest was reused
    kinds = _retrain_events(settings, claim)
    assert kinds == ["Retraining Started", "Retraining Resumed", "Retraining Completed"]


def test_a_version_registered_before_the_kill_is_kept_not_doubled(
    home: Path, tmp_path: Path
) -> None:
    settings = settings_for(home)
    before = _versions(settings)
    event_id = _request_retrain(settings)
    log = tmp_path / "agent1.log"
    agent = AgentProcess(home, log, {PAUSE_ENV: "registered"})
    try:
        what = "the agent pausing right after registering"
        wait_until(
            lambda: agent.alive() and "pausing at registered" in log.read_text(), 180, what=what
        )
    finally:
        agent.kill()
    (registered,) = set(_versions(settings)) - set(before)  # made, but not recorded by the run
    killed = _claim(settings, event_id)
    assert killed is not None and killed.status == RUNNING

    claim = _resumed_once(settings, event_id, tmp_path / "agent2.log")

    assert set(_versions(settings)) - set(before) == {registered}  # recognised, not doubled
    assert claim.status == COMPLETED and claim.attempts == 2
    (run,) = _runs_of(settings, claim)
    register = {s.step: s for s in PipelineStore(settings.workspace).steps(run.run_id)}["register"]
    assert register.attempt == 2 and register.outputs["reused"] is True
    assert register.outputs["version"] == registered
    completed = [
        e["detail"]
        for e in read_events(settings.workspace)
        if e["detail-type"] == "Retraining Completed" and e["detail"].get("claim") == claim.id
    ]
    assert [d["version"] for d in completed] == [registered]


def _canary_live(settings: Settings, agent: AgentProcess, server_log: Path) -> int | None:
    """The revision of the agent's canary once the endpoint worker applied it."""
    assert agent.alive() and "gate failed" not in agent.tail(), "no challenger to deploy"
    config = endpoint_store(settings.workspace).get(ENDPOINT)
    if len(config.variants) != 2:
        return None
    return config.revision if f"revision {config.revision} live" in server_log.read_text() else None


def _invoked_variants(url: str, count: int) -> set[str]:
    row = generate(1, seed=5).drop(columns=["customerID", "Churn"]).to_dict("records")[0]
    seen = set()
    for _ in range(count):
        status, headers, _ = post(
            f"{url}/invocations", orjson.dumps(row), {"content-type": "application/json"}
        )
        assert status == 200
        lowered = {key.lower(): value for key, value in headers.items()}
        seen.add(lowered["x-amzn-invoked-production-variant"])
    return seen


def test_a_deployment_killed_mid_canary_is_rolled_back_on_restart(
    home: Path, tmp_path: Path
) -> None:
    settings = settings_for(home)
    store = endpoint_store(settings.workspace)
    before = store.get(ENDPOINT)
    deploying = {
        "DRIFTLOOP_RETRAIN__DEPLOY": "true",
        "DRIFTLOOP_DEPLOY__CANARY_PERCENT": "30",
        "DRIFTLOOP_DEPLOY__BAKE": "10m",
        "DRIFTLOOP_DEPLOY__POLL": "1s",
    }
    server_log = tmp_path / "server.log"
    server = start_server([ENDPOINT, "--workers", "1"], service_env(home), server_log)
    try:
        server.wait_ready()
        event_id = _request_retrain(settings)
        agent = AgentProcess(home, tmp_path / "agent1.log", deploying)
        try:
            what = "the endpoint worker serving the agent's canary"
            canary = wait_until(lambda: _canary_live(settings, agent, server_log), 300, what=what)
        except AssertionError as exc:
            config = store.get(ENDPOINT).model_dump_json()
            raise AssertionError(f"{exc}\nconfig: {config}\nagent: {agent.tail()}") from None
        finally:
            agent.kill()
        claim = _claim(settings, event_id)
        assert claim is not None and claim.status == COMPLETED and claim.version is not None
        entry = DeployJournal(settings.workspace).get(ENDPOINT)
        assert entry is not None and entry.owner.pid == agent.pid
        assert entry.version == claim.version
        assert [v.weight for v in store.get(ENDPOINT).variants] == [0.7, 0.3]
        assert _invoked_variants(server.url, 40) == {"AllTraffic", "Candidate"}  # half-way

        again = AgentProcess(home, tmp_path / "agent2.log", deploying)
        try:
            what = "the restarted agent rolling the canary back"
            wait_until(
                lambda: again.alive() and DeployJournal(settings.workspace).get(ENDPOINT) is None,
                60,
                what=what,
            )
        except BaseException:
            again.kill()
            raise
        again.stop()
        after = store.get(ENDPOINT)
        assert after.variants == before.variants and after.revision == canary + 1
        wait_until(
            lambda: f"revision {after.revision} live" in server_log.read_text(),
            10,
            what="the worker applying the restored config",
        )
        assert _invoked_variants(server.url, 20) == {"AllTraffic"}
    finally:
        server.stop()
    steps = [
        e["detail"]
        for e in read_events(settings.workspace)
        if e["detail-type"] == "Deployment Step" and e["detail"]["version"] == claim.version
    ]
    assert [s["step"] for s in steps] == ["canary", "rolled_back"]
    assert f"process {agent.pid}" in steps[-1]["reason"]
    said = DeployJournal(settings.workspace).last(ENDPOINT)  # the journal says what happened
    assert said == steps[-1] and f"interrupted at canary (revision {canary})" in said["reason"]
    registry = Backends.from_settings(settings).registry
    assert registry.get_by_alias(MODEL, CHAMPION).version == 1  # type: ignore[union-attr]
    challenger = registry.get_by_alias(MODEL, CHALLENGER)
    assert challenger is not None and challenger.version == claim.version
    assert challenger.approval == APPROVED  # kept for a deliberate `driftloop deploy`
    again_claims = [
        c for c in Ledger(settings.workspace.retrain_db).claims() if c.status == RUNNING
    ]
    assert again_claims == []  # the restart retrained nothing
