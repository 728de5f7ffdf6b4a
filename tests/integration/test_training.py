"""Training, tracking and registry on the real Telco file, with MLflow's SQLite store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from driftloop.backends.local.registry import MlflowRegistry
from driftloop.backends.local.snapshots import FolderSnapshotStore
from driftloop.config import Settings, load_settings
from driftloop.data.preprocess import preprocess
from driftloop.errors import RegistryError
from driftloop.events.log import read_events
from driftloop.flows import TrainingOutcome, train_and_register
from driftloop.registry import APPROVED, CHALLENGER, CHAMPION, PENDING, REJECTED
from driftloop.registry.lifecycle import approve, promote, register_and_gate, reject
from driftloop.training.metrics import evaluate
from driftloop.training.trainer import train_candidates

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(
    telco_csv: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Settings, TrainingOutcome]:
    home = tmp_path_factory.mktemp("ws") / ".driftloop"
    settings = load_settings(home=home)
    preprocess(
        telco_csv,
        settings.workspace.prepared,
        settings.data,
        FolderSnapshotStore(settings.workspace.snapshots),
    )
    return settings, train_and_register(settings)


def test_best_candidate_reaches_084_on_real_telco(
    trained: tuple[Settings, TrainingOutcome],
) -> None:
    _, outcome = trained
    assert {c.name for c in outcome.candidates} == {"logistic_regression", "hist_gradient_boosting"}
    assert outcome.best.metrics["roc_auc"] >= 0.84
    assert outcome.best.metrics["roc_auc"] == max(c.metrics["roc_auc"] for c in outcome.candidates)


def test_each_candidate_is_a_complete_mlflow_run(trained: tuple[Settings, TrainingOutcome]) -> None:
    settings, outcome = trained
    client = MlflowClient(settings.workspace.tracking_uri)
    for result in outcome.candidates:
        run = client.get_run(result.run_id)
        assert set(run.data.metrics) >= {
            "roc_auc",
            "pr_auc",
            "f1",
            "precision",
            "recall",
            "accuracy",
            "log_loss",
            "brier",
        }
        assert run.data.params["candidate"] == result.name
        assert run.data.params["seed"] == "42"
        digests = {d.dataset.name for d in run.inputs.dataset_inputs}
        assert digests == {outcome.train.snapshot.digest, outcome.val.snapshot.digest}
        plots = {Path(a.path).name for a in client.list_artifacts(result.run_id, "plots")}
        assert plots == {
            "roc_curve.png",
            "precision_recall_curve.png",
            "confusion_matrix.png",
            "calibration_curve.png",
            "feature_importance.png",
        }
        info = mlflow.models.get_model_info(result.model_uri)
        assert info.signature is not None
        assert info.signature.inputs.input_names() == outcome.train.spec.features
        assert info.flavors["sklearn"]["serialization_format"] == "skops"


def test_logged_model_predicts_like_a_fresh_fit(trained: tuple[Settings, TrainingOutcome]) -> None:
    settings, outcome = trained
    model = mlflow.sklearn.load_model(outcome.best.model_uri)
    proba = model.predict_proba(outcome.val.features)[:, 1]
    again = evaluate(outcome.val.target, proba, threshold=settings.training.threshold)
    assert again["roc_auc"] == pytest.approx(outcome.best.metrics["roc_auc"], abs=1e-12)


def test_first_version_is_gated_champion_with_baseline(
    trained: tuple[Settings, TrainingOutcome],
) -> None:
    settings, outcome = trained
    registration = outcome.registration
    assert registration is not None and registration.gate.passed
    version = registration.version
    assert version.version == 1
    assert version.aliases == (CHAMPION,)
    assert version.approval == APPROVED
    baseline = Path(version.baseline_uri.removeprefix("file://")) / "constraints.json"
    assert baseline.is_file()
    (event,) = [
        e for e in read_events(settings.workspace) if e["detail-type"] == "Model Version Registered"
    ]
    assert event["detail"]["version"] == 1 and event["detail"]["gate"]["passed"] is True


def test_seeded_training_is_reproducible_and_gate_needs_a_margin(
    trained: tuple[Settings, TrainingOutcome],
) -> None:
    settings, outcome = trained
    again = train_candidates(outcome.train, outcome.val, settings)
    for first, second in zip(outcome.candidates, again, strict=True):
        assert first.metrics == second.metrics
    strict = settings.model_copy(
        update={"gate": settings.gate.model_copy(update={"min_improvement": 0.01})}
    )
    registry = MlflowRegistry(settings.workspace)
    best = max(again, key=lambda r: r.metrics["roc_auc"])
    registration = register_and_gate(registry, best, outcome.val, strict, "file:///b")
    assert not registration.gate.passed
    assert "vs champion v1" in registration.gate.failures[0]
    assert registration.version.approval == REJECTED
    assert registry.get_by_alias(settings.registry.model_name, CHAMPION).version == 1
    with pytest.raises(RegistryError, match="Rejected"):
        promote(registry, settings.registry.model_name, registration.version.version)


def test_manual_approval_flow(trained: tuple[Settings, TrainingOutcome]) -> None:
    settings, outcome = trained
    name = settings.registry.model_name
    manual = settings.model_copy(
        update={"gate": settings.gate.model_copy(update={"require_approval": True})}
    )
    registry = MlflowRegistry(settings.workspace)
    pending = register_and_gate(registry, outcome.best, outcome.val, manual, "file:///b").version
    assert pending.approval == PENDING
    assert pending.aliases == (CHALLENGER,)
    approved = approve(registry, name, pending.version)
    assert approved.aliases == (CHAMPION,)
    assert approved.approval == APPROVED
    with pytest.raises(RegistryError, match="is the champion"):
        reject(registry, name, approved.version)
    assert promote(registry, name, 1).aliases == (CHAMPION,)  # roll back
    assert reject(registry, name, approved.version).approval == REJECTED


def test_failed_registration_leaves_no_version(
    trained: tuple[Settings, TrainingOutcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, outcome = trained
    registry = MlflowRegistry(settings.workspace)
    before = [v.version for v in registry.list_versions(settings.registry.model_name)]

    def broken(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(registry, "set_alias", broken)
    with pytest.raises(OSError, match="disk full"):
        register_and_gate(registry, outcome.best, outcome.val, settings, "file:///b")
    after = [v.version for v in registry.list_versions(settings.registry.model_name)]
    assert after == before
    assert registry.get_by_alias(settings.registry.model_name, CHAMPION).version == 1


def test_champion_that_cannot_score_fails_the_gate(
    trained: tuple[Settings, TrainingOutcome],
) -> None:
    settings, outcome = trained
    registry = MlflowRegistry(settings.workspace)
    narrow = replace(outcome.val, frame=outcome.val.frame.drop(columns=["tenure"]))
    narrow_spec = replace(
        outcome.val.spec, columns=tuple(c for c in outcome.val.spec.columns if c.name != "tenure")
    )
    holdout = replace(narrow, spec=narrow_spec)
    registration = register_and_gate(registry, outcome.best, holdout, settings, "file:///b")
    assert not registration.gate.passed
    assert "could not score the holdout" in registration.gate.failures[0]
    assert np.isfinite(outcome.best.metrics["roc_auc"])
