"""A deployment whose process died is settled from its journal entry: rolled back when it died
before its final config, completed (promotion redone) when it died after; the journal keeps how
it ended."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from driftloop.deploy.journal import DeployJournal, recover
from driftloop.registry.base import APPROVAL_TAG, APPROVED, CHALLENGER, CHAMPION, ModelVersion
from driftloop.serving.endpoint_config import EndpointConfig, EndpointConfigStore, Variant
from driftloop.workspace import Workspace
from tests.workspaces import endpoint_store, event_bus

ENDPOINT, MODEL = "churn", "churn-model"


@dataclass
class FakeRegistry:
    """The registry calls a promotion makes, on two Approved versions."""

    aliases: dict[str, int] = field(default_factory=lambda: {CHAMPION: 1, CHALLENGER: 2})
    announced: list[str] = field(default_factory=list)

    def get_version(self, name: str, version: int) -> ModelVersion:
        held = tuple(alias for alias, v in self.aliases.items() if v == version)
        return ModelVersion(name, version, "run", "uri", 0, {APPROVAL_TAG: APPROVED}, held)

    def set_alias(self, _name: str, alias: str, version: int) -> None:
        self.aliases[alias] = version

    def delete_alias(self, _name: str, alias: str) -> None:
        del self.aliases[alias]

    def announce(self, kind: str, detail: dict[str, Any]) -> None:
        self.announced.append(f"{kind}: {detail['change']}")


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          check=True, capture_output=True, text=True)  # fmt: skip
    return int(done.stdout)


def _config(*variants: tuple[str, str, float]) -> EndpointConfig:
    shaped = tuple(Variant(name=n, model=m, weight=w) for n, m, w in variants)
    return EndpointConfig(name=ENDPOINT, model_name=MODEL, variants=shaped)


def _died_at(ws: Workspace, step: str, config: EndpointConfig) -> tuple[EndpointConfigStore, int]:
    """v1 served, then a deployment of v2 that saved ``config`` as ``step`` and was killed."""
    store = endpoint_store(ws)
    previous = store.save(_config(("AllTraffic", "1", 1.0)))
    journal = DeployJournal(ws)
    journal.begin(ENDPOINT, 2, previous)
    journal.advance(ENDPOINT, step, store.save(config).revision)
    path = journal.folder / f"{ENDPOINT}.json"
    entry = json.loads(path.read_text())
    entry["owner"] = {**entry["owner"], "pid": _dead_pid(), "started": None}
    path.write_text(json.dumps(entry))
    return store, previous.revision


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws").ensure()


def test_dead_mid_canary_is_rolled_back_and_the_journal_says_so(ws: Workspace) -> None:
    canary = _config(("AllTraffic", "1", 0.7), ("Candidate", "2", 0.3))
    store, _ = _died_at(ws, "canary", canary)
    registry = FakeRegistry()
    (detail,) = recover(ws, store, event_bus(ws), registry=registry)
    assert [(v.model, v.weight) for v in store.get(ENDPOINT).variants] == [("1", 1.0)]
    assert DeployJournal(ws).get(ENDPOINT) is None
    last = DeployJournal(ws).last(ENDPOINT)
    assert last == detail and last["step"] == "rolled_back"
    assert "interrupted at canary (revision 2)" in last["reason"] and "is gone" in last["reason"]
    assert registry.aliases == {CHAMPION: 1, CHALLENGER: 2} and registry.announced == []


def test_dead_after_its_final_config_is_completed(ws: Workspace) -> None:
    final = _config(("AllTraffic", "2", 1.0))
    store, _ = _died_at(ws, "completed", final)
    registry = FakeRegistry()
    (detail,) = recover(ws, store, event_bus(ws), registry=registry)
    assert [(v.model, v.weight) for v in store.get(ENDPOINT).variants] == [("2", 1.0)]
    assert registry.aliases == {CHAMPION: 2}  # the promotion it died in, redone
    assert DeployJournal(ws).last(ENDPOINT) == detail and detail["step"] == "completed"
    assert detail["reason"].endswith("; finished")
    assert recover(ws, store, event_bus(ws), registry=registry) == []  # nothing left


def test_without_a_registry_even_a_final_config_is_rolled_back(ws: Workspace) -> None:
    store, revision = _died_at(ws, "completed", _config(("AllTraffic", "2", 1.0)))
    (detail,) = recover(ws, store, event_bus(ws))
    assert detail["step"] == "rolled_back" and store.get(ENDPOINT).revision == revision + 2
