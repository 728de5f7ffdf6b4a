"""Trained workspaces for integration tests: a folder with driftloop.toml, data and v1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from driftloop.backends.catalog import Backends
from driftloop.backends.local.events import LogEventBus
from driftloop.backends.local.rules import FileRuleStore
from driftloop.backends.local.snapshots import FolderSnapshotStore
from driftloop.config import Settings, load_settings
from driftloop.data.generator import generate
from driftloop.data.preprocess import preprocess
from driftloop.flows import TrainingOutcome, train_and_register
from driftloop.serving.endpoint_config import EndpointConfig, EndpointConfigStore, Variant
from driftloop.workspace import Workspace

BASE_TOML = (
    '[training]\ncandidates = ["logistic_regression"]\n'
    '[[notifications.topics]]\nname = "ops"\n'
    "[[notifications.topics.subscriptions]]\n"
    'protocol = "file"\nendpoint = "notifications/ops.jsonl"\n'
)


def settings_for(root: Path) -> Settings:
    """The settings of the workspace under ``root`` (its own driftloop.toml)."""
    return load_settings(root / "driftloop.toml", home=root / ".driftloop")


def endpoint_store(workspace: Workspace) -> EndpointConfigStore:
    """The endpoint config store of ``workspace`` on the local backend."""
    return Backends.from_settings(load_settings(home=workspace.root)).endpoints


def emit(
    workspace: Workspace, source: str, detail_type: str, detail: dict[str, Any]
) -> dict[str, Any]:
    """Put one event on ``workspace``'s local event bus."""
    return event_bus(workspace).emit(source, detail_type, detail)


def event_bus(workspace: Workspace) -> LogEventBus:
    """``workspace``'s local event bus."""
    return LogEventBus(workspace, FileRuleStore(workspace.rules_file))


def service_env(root: Path) -> dict[str, str]:
    """Environment for a server or CLI process on that workspace, with fast flushes and polls."""
    return {
        "DRIFTLOOP_HOME": str(root / ".driftloop"),
        "DRIFTLOOP_CONFIG": str(root / "driftloop.toml"),
        "DRIFTLOOP_SERVING__METRICS_FLUSH": "300ms",
        "DRIFTLOOP_SERVING__CONFIG_POLL": "200ms",
        "COLUMNS": "200",
    }


def trained(root: Path, *, seed: int, extra_toml: str = "") -> TrainingOutcome:
    """Write the config, generate 3,000 rows, preprocess and register v1 (logistic regression)."""
    (root / "driftloop.toml").write_text(BASE_TOML + extra_toml)
    settings = settings_for(root)
    ws = settings.workspace
    generate(3000, seed=seed).to_csv(root / "train.csv", index=False)
    preprocess(root / "train.csv", ws.prepared, settings.data, FolderSnapshotStore(ws.snapshots))
    return train_and_register(settings)


def churn_endpoint(settings: Settings, root: Path, *, rows: int = 4000, seed: int = 11) -> Settings:
    """``settings`` with logistic regression only, v1 trained on ``rows`` generated rows (in
    ``root``) and registered as champion, served by endpoint "churn" (AllTraffic)."""
    one = settings.training.model_copy(update={"candidates": ["logistic_regression"]})
    settings = settings.model_copy(update={"training": one})
    stores = Backends.from_settings(settings)
    generate(rows, seed=seed).to_csv(root / "train.csv", index=False)
    preprocess(root / "train.csv", settings.workspace.prepared, settings.data, stores.snapshots)
    train_and_register(settings)
    variants = (Variant(name="AllTraffic", model="champion"),)
    stores.endpoints.save(EndpointConfig(name="churn", model_name="churn-model", variants=variants))
    return settings
