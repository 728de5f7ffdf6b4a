"""A deployment whose process dies mid-way is rolled back; two deployments never overlap."""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from driftloop.agent import Agent
from driftloop.config import Settings
from driftloop.deploy.guarded import DeployPlan, deploy
from driftloop.deploy.journal import DeployJournal, DeploymentInProgress, recover
from driftloop.events.log import read_events
from driftloop.serving.endpoint_config import EndpointConfig, Variant
from driftloop.workspace import Workspace
from tests.servers import DRIFTLOOP
from tests.waiting import wait_until
from tests.workspaces import endpoint_store, event_bus, service_env, settings_for, trained

pytestmark = pytest.mark.slow
ENDPOINT = "churn"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 champion behind ``churn`` (no server needed: deployments only write configs)."""
    root = tmp_path_factory.mktemp("recovery")
    trained(root, seed=11)
    variants = (Variant(name="AllTraffic", model="1"),)
    store = endpoint_store(settings_for(root).workspace)
    store.save(EndpointConfig(name=ENDPOINT, model_name="churn-model", variants=variants))
    return root


def _variants(settings: Settings) -> list[tuple[str, str, float]]:
    config = endpoint_store(settings.workspace).get(ENDPOINT)
    return [(v.name, v.model, v.weight) for v in config.variants]


def test_a_killed_deployment_is_rolled_back_by_the_agent(home: Path) -> None:
    settings = settings_for(home)
    store = endpoint_store(settings.workspace)
    before = store.get(ENDPOINT)
    args = ["deploy", "-e", ENDPOINT, "-m", "1", "--canary-percent", "30", "--bake", "5m"]
    process = subprocess.Popen(
        [DRIFTLOOP, *args],
        env={**os.environ, **service_env(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )

    def canary_saved() -> bool:
        assert process.poll() is None, f"deploy exited with {process.returncode}"
        return store.get(ENDPOINT).revision != before.revision

    try:
        wait_until(canary_saved, 60, what="the deployment saving its canary config")
        assert [v.weight for v in store.get(ENDPOINT).variants] == [0.7, 0.3]  # mid-canary
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    assert DeployJournal(settings.workspace).get(ENDPOINT) is not None

    Agent(settings).tick(datetime.now(UTC))

    after = store.get(ENDPOINT)
    assert after.variants == before.variants and after.revision == before.revision + 2
    assert DeployJournal(settings.workspace).get(ENDPOINT) is None
    last = [e["detail"] for e in read_events(settings.workspace)][-1]
    assert last["step"] == "rolled_back" and "is gone" in last["reason"]
    assert f"process {process.pid}" in last["reason"]
    assert (
        recover(
            settings.workspace, endpoint_store(settings.workspace), event_bus(settings.workspace)
        )
        == []
    )  # nothing left to do


def test_a_second_deployment_waits_for_a_live_one(home: Path) -> None:
    settings = settings_for(home)
    journal = DeployJournal(settings.workspace)
    current = endpoint_store(settings.workspace).get(ENDPOINT)
    journal.begin(ENDPOINT, 1, current)  # this live process is "deploying"
    try:
        with pytest.raises(DeploymentInProgress, match=f"process {os.getpid()}"):
            deploy(settings, DeployPlan(endpoint=ENDPOINT, model="1", bake_s=1, poll_s=0.1))
        assert (
            recover(
                settings.workspace,
                endpoint_store(settings.workspace),
                event_bus(settings.workspace),
            )
            == []
        )  # its owner is alive: left alone
    finally:
        journal.end(ENDPOINT)
    assert endpoint_store(settings.workspace).get(ENDPOINT).revision == current.revision


def test_a_settled_deployment_leaves_no_entry(home: Path) -> None:
    settings = settings_for(home)
    plan = DeployPlan(endpoint=ENDPOINT, model="1", strategy="all-at-once", bake_s=0.2, poll_s=0.1)
    assert deploy(settings, plan).status == "completed"
    assert DeployJournal(settings.workspace).list() == []
    assert _variants(settings) == [("AllTraffic", "1", 1.0)]


def _recover(workspace: Workspace) -> list[dict[str, Any]]:
    return recover(workspace, endpoint_store(workspace), event_bus(workspace))
