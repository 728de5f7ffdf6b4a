"""`driftloop models` emits one event per change; `endpoints create --shadow` keeps its percent;
`endpoints create --serverless` keeps its settings and refuses capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.backends.local.registry import MlflowRegistry
from driftloop.config import load_settings
from driftloop.events.log import read_events
from driftloop.registry.base import APPROVAL_TAG, GATE_TAG, PENDING
from tests.workspaces import endpoint_store


@pytest.fixture
def versions(home: Path) -> Path:
    """Two registered versions that passed their gate and wait for approval (no training)."""
    registry = MlflowRegistry(load_settings(None).workspace)
    tags = {GATE_TAG: "passed", APPROVAL_TAG: PENDING}
    for _ in range(2):
        registry.create_version("churn-model", str(home / "no-model"), "", tags)
    return home


def changes(home: Path) -> list[tuple[str, int]]:
    workspace = load_settings(None).workspace
    return [
        (event["detail"]["change"], event["detail"]["version"])
        for event in read_events(workspace)
        if event["detail-type"] == "Model Version State Change"
    ]


def test_each_models_command_emits_one_event(versions: Path, cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("models", "approve", "1").code == 0
    assert changes(versions) == [("approved", 1)]
    assert cli("models", "reject", "2").code == 0
    assert cli("models", "promote", "champion").code == 0
    assert changes(versions) == [("approved", 1), ("rejected", 2), ("promoted", 1)]
    refused = cli("models", "promote", "2")
    assert refused.code == 6 and "Rejected" in refused.err
    assert len(changes(versions)) == 3


@pytest.mark.parametrize(
    ("shadow", "percent"),
    [("S=2:1", 1.0), ("S=2", 100.0), ("S=2:20", 20.0), ("S=2:100", 100.0)],
)
def test_shadow_sampling_percent(versions: Path, cli, shadow: str, percent: float) -> None:  # type: ignore[no-untyped-def]
    created = cli("endpoints", "create", "churn", "-v", "A=1", "--shadow", shadow)
    assert created.code == 0, created.err
    config = endpoint_store(load_settings(None).workspace).get("churn")
    assert config.shadow is not None and config.shadow.sampling_percent == percent


def test_serverless_endpoints(versions: Path, cli) -> None:  # type: ignore[no-untyped-def]
    made = cli("endpoints", "create", "churn", "-v", "A=1", "--serverless", "--memory-mb", "3072")
    assert made.code == 0, made.err
    assert "churn (serverless)" in made.out
    config = endpoint_store(load_settings(None).workspace).get("churn")
    assert config.serverless is not None and config.serverless.memory_mb == 3072
    assert not config.capture.enabled
    refused = cli("endpoints", "create", "b", "--serverless", "--capture-percent", "50")
    assert refused.code == 2 and "cannot capture data" in refused.err
    refused = cli("endpoints", "create", "c", "-v", "A=1", "-v", "B=2", "--serverless")
    assert refused.code == 2 and "one production variant" in refused.err
    refused = cli("deploy", "-e", "churn", "-m", "2", "--strategy", "canary", "--no-promote")
    assert refused.code == 2 and "all-at-once deployments only" in refused.err


def test_names_sagemaker_refuses_are_one_sentence(versions: Path, cli) -> None:  # type: ignore[no-untyped-def]
    for args in (["bad_name"], ["churn", "-v", "All_Traffic=1"], ["churn", "--shadow", "S_1=2"]):
        refused = cli("endpoints", "create", *args)
        assert refused.code == 2, refused.err
        assert "is not one SageMaker takes: at most 63 letters, digits and hyphens" in refused.err
        assert "Traceback" not in refused.err
    assert not (versions / ".driftloop" / "endpoints").exists() or not list(
        (versions / ".driftloop" / "endpoints").glob("*.json")
    )
