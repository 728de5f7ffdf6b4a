"""The model registry contract: versions, tags, aliases, deletion, "not found", announcements.

Versions are a tiny real scikit-learn pipeline saved once as an MLflow model, so loading works.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest

from driftloop.backends.catalog import Backends
from driftloop.errors import ModelNotFound, NotFoundError
from driftloop.registry.base import (
    APPROVAL_TAG,
    APPROVED,
    CHALLENGER,
    CHAMPION,
    GATE_TAG,
    PENDING,
    REGISTRY_SOURCE,
    REJECTED,
)
from driftloop.registry.lifecycle import approve, reject
from tests.sagemaker import NAME, PASSED, RUN

STORES = ("registry",)
"""The stores these tests exercise: they run for every backend kind that builds them."""

pytestmark = pytest.mark.usefixtures("moto_deletes_model_packages")


def test_versions_count_up_with_their_run_source_and_tags(
    backends: Backends, saved_model: str
) -> None:
    registry = backends.registry
    first = registry.create_version(NAME, saved_model, RUN, {**PASSED, "candidate": "logreg"})
    second = registry.create_version(NAME, saved_model, RUN, {GATE_TAG: "failed"})
    assert (first.version, second.version) == (1, 2)
    assert (first.name, first.run_id, first.tags["candidate"]) == (NAME, RUN, "logreg")
    assert first.source and first.created_ms > 0 and first.aliases == ()
    assert (first.approval, second.approval, second.gate_status) == (PENDING, PENDING, "failed")
    assert registry.get_version(NAME, 1).tags["candidate"] == "logreg"
    assert [v.version for v in registry.list_versions(NAME)] == [1, 2]
    assert registry.list_versions("no-such-model") == []


def test_tags_are_overwritten_and_the_approval_follows(
    backends: Backends, saved_model: str
) -> None:
    registry = backends.registry
    registry.create_version(NAME, saved_model, RUN, {**PASSED, "note": "old"})
    registry.set_tags(NAME, 1, {APPROVAL_TAG: APPROVED, "note": "new"})
    found = registry.get_version(NAME, 1)
    assert (found.approval, found.tags["note"], found.gate_status) == (APPROVED, "new", "passed")
    [listed] = registry.list_versions(NAME)
    assert listed.approval == APPROVED


def test_an_alias_points_at_one_version_and_moves(backends: Backends, saved_model: str) -> None:
    registry = backends.registry
    for _ in range(2):
        registry.create_version(NAME, saved_model, RUN, PASSED)
    assert registry.get_by_alias(NAME, CHAMPION) is None
    registry.set_alias(NAME, CHAMPION, 1)
    registry.set_alias(NAME, CHALLENGER, 2)
    registry.set_alias(NAME, CHAMPION, 2)
    champion = registry.get_by_alias(NAME, CHAMPION)
    assert champion is not None and champion.version == 2
    assert set(champion.aliases) == {CHAMPION, CHALLENGER}
    assert registry.get_version(NAME, 1).aliases == ()
    registry.delete_alias(NAME, CHALLENGER)
    registry.delete_alias(NAME, CHALLENGER)  # unset: not an error
    assert registry.get_by_alias(NAME, CHALLENGER) is None
    assert registry.get_by_alias("no-such-model", CHAMPION) is None


def test_a_deleted_version_is_gone_and_the_next_one_counts_on(
    backends: Backends, saved_model: str
) -> None:
    registry = backends.registry
    for _ in range(2):
        registry.create_version(NAME, saved_model, RUN, PASSED)
    registry.delete_version(NAME, 1)
    with pytest.raises(ModelNotFound):
        registry.get_version(NAME, 1)
    assert [v.version for v in registry.list_versions(NAME)] == [2]
    assert registry.create_version(NAME, saved_model, RUN, PASSED).version == 3


def test_missing_versions_are_model_not_found(backends: Backends, saved_model: str) -> None:
    registry = backends.registry
    with pytest.raises(ModelNotFound):
        registry.get_version("no-such-model", 1)
    registry.create_version(NAME, saved_model, RUN, PASSED)
    with pytest.raises(ModelNotFound):
        registry.get_version(NAME, 9)
    with pytest.raises(ModelNotFound):
        registry.set_tags(NAME, 9, {"note": "x"})
    with pytest.raises(ModelNotFound):
        registry.set_alias(NAME, CHAMPION, 9)
    with pytest.raises(ModelNotFound):
        registry.load_model(NAME, 9)
    with pytest.raises(ModelNotFound):
        registry.delete_version(NAME, 9)


def test_a_version_loads_as_the_fitted_pipeline(backends: Backends, saved_model: str) -> None:
    registry = backends.registry
    registry.create_version(NAME, saved_model, RUN, PASSED)
    proba = registry.load_model(NAME, 1).predict_proba(np.array([[0.0], [7.0]]))[:, 1]
    assert proba[0] < 0.5 < proba[1]


def test_approval_changes_are_announced_on_the_bus(backends: Backends, saved_model: str) -> None:
    registry = backends.registry
    for _ in range(2):
        registry.create_version(NAME, saved_model, RUN, PASSED)
    approve(registry, NAME, 1)
    reject(registry, NAME, 2)
    changes = [
        (event["detail"]["change"], event["detail"]["version"], event["detail"]["approvalStatus"])
        for event in backends.events.read_events()
        if event["source"] == REGISTRY_SOURCE
    ]
    assert changes == [("approved", 1, APPROVED), ("rejected", 2, REJECTED)]


def test_the_training_runs_files_are_listed_and_read(
    backends: Backends, saved_model: str, tmp_path: Path
) -> None:
    registry = backends.registry  # points MLflow at the workspace's store
    experiment = mlflow.create_experiment("plots", artifact_location=tmp_path.as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_text("curve", "plots/roc_curve.png")
        mlflow.log_text("matrix", "plots/deeper/confusion_matrix.png")
        mlflow.log_text("{}", "feature_importance.json")
    registry.create_version(NAME, saved_model, run.info.run_id, PASSED)
    registry.create_version(NAME, saved_model, RUN, PASSED)  # its run is not in the store
    assert registry.run_artifacts(NAME, 1, "plots") == [
        "plots/deeper/confusion_matrix.png",
        "plots/roc_curve.png",
    ]
    assert "feature_importance.json" in registry.run_artifacts(NAME, 1)
    assert registry.run_artifact(NAME, 1, "plots/roc_curve.png") == b"curve"
    assert registry.run_artifacts(NAME, 2, "plots") == []
    for version, path in ((1, "plots/none.png"), (1, "plots"), (1, "../x"), (2, "plots/a.png")):
        with pytest.raises(NotFoundError):
            registry.run_artifact(NAME, version, path)
    with pytest.raises(ModelNotFound):
        registry.run_artifacts(NAME, 9, "plots")
    with pytest.raises(ModelNotFound):
        registry.run_artifact(NAME, 9, "plots/roc_curve.png")
