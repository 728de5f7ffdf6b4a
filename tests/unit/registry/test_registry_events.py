"""approve, reject and promote: the registry announces one "Model Version State Change" each."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from driftloop.backends.local.events import LogEventBus
from driftloop.backends.local.rules import FileRuleStore
from driftloop.errors import ModelNotFound, RegistryError
from driftloop.events.log import read_events
from driftloop.registry.base import (
    APPROVAL_TAG,
    APPROVED,
    CHAMPION,
    GATE_TAG,
    PENDING,
    ModelRegistry,
    ModelVersion,
)
from driftloop.registry.lifecycle import approve, promote, reject
from driftloop.workspace import Workspace

NAME = "churn-model"


class MemoryRegistry(ModelRegistry):
    """Versions and aliases in a dict: enough for approval and promotion."""

    def __init__(self) -> None:
        self.versions: dict[int, ModelVersion] = {}
        self.aliases: dict[str, int] = {}

    def create_version(
        self, name: str, model_uri: str, run_id: str, tags: dict[str, str]
    ) -> ModelVersion:
        number = len(self.versions) + 1
        self.versions[number] = ModelVersion(name, number, run_id, model_uri, 0, dict(tags))
        return self.get_version(name, number)

    def get_version(self, name: str, version: int) -> ModelVersion:
        if version not in self.versions:
            raise ModelNotFound(f"model '{name}' has no version {version}")
        aliases = tuple(alias for alias, number in self.aliases.items() if number == version)
        return replace(self.versions[version], aliases=aliases)

    def get_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        number = self.aliases.get(alias)
        return None if number is None else self.get_version(name, number)

    def list_versions(self, name: str) -> list[ModelVersion]:
        return [self.get_version(name, number) for number in sorted(self.versions)]

    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        found = self.versions[version]
        self.versions[version] = replace(found, tags={**found.tags, **tags})

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.aliases[alias] = version

    def delete_alias(self, name: str, alias: str) -> None:
        self.aliases.pop(alias, None)

    def delete_version(self, name: str, version: int) -> None:
        del self.versions[version]

    def load_model(self, name: str, version: int) -> Any:
        raise NotImplementedError


@pytest.fixture
def registry() -> MemoryRegistry:
    registry = MemoryRegistry()
    for _ in range(2):
        registry.create_version(
            NAME, "models:/m", "run", {GATE_TAG: "passed", APPROVAL_TAG: PENDING}
        )
    return registry


def on_bus(registry: MemoryRegistry, workspace: Workspace) -> MemoryRegistry:
    registry.events = LogEventBus(workspace, FileRuleStore(workspace.rules_file))
    return registry


def changes(workspace: Workspace) -> list[tuple[str, int]]:
    return [
        (event["detail"]["change"], event["detail"]["version"])
        for event in read_events(workspace)
        if event["detail-type"] == "Model Version State Change"
    ]


def test_approve_emits_one_event(registry: MemoryRegistry, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    approved = approve(on_bus(registry, workspace), NAME, 1)
    assert approved.approval == APPROVED and approved.aliases == (CHAMPION,)
    assert changes(workspace) == [("approved", 1)]
    [event] = read_events(workspace)
    assert event["source"] == "driftloop.registry"
    assert event["detail"]["aliases"] == [CHAMPION]


def test_reject_and_promote_emit_one_event_each(registry: MemoryRegistry, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    on_bus(registry, workspace)
    approve(registry, NAME, 1)
    reject(registry, NAME, 2)
    promote(registry, NAME, 1)
    assert changes(workspace) == [("approved", 1), ("rejected", 2), ("promoted", 1)]


def test_a_refused_change_emits_nothing(registry: MemoryRegistry, tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    with pytest.raises(RegistryError):
        promote(on_bus(registry, workspace), NAME, 2)  # still pending
    assert changes(workspace) == []


def test_a_registry_without_a_bus_announces_nothing(
    registry: MemoryRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    approve(registry, NAME, 1)
    assert not list(tmp_path.rglob("*.jsonl"))
