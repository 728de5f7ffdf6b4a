"""The retraining policy end to end: concept-shifted traffic captured by the real data plane,
labelled, then retrained on; the gate judges challenger against champion on recent labels.

The tests share one workspace and run in file order: each leaves the registry as the next expects.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from driftloop.agent import Agent
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.backends.local.snapshots import FolderSnapshotStore
from driftloop.capture.labels import ingest_labels
from driftloop.cli import retrain as retrain_cli
from driftloop.config import RetrainSettings, Settings, load_settings
from driftloop.data.generator import generate
from driftloop.data.preprocess import preprocess
from driftloop.errors import ConfigError
from driftloop.events.log import read_events
from driftloop.flows import train_and_register
from driftloop.monitoring.target import resolve_target
from driftloop.pipelines.store import PipelineStore
from driftloop.registry.base import CHALLENGER, CHAMPION, PENDING
from driftloop.retraining.retrain import SOURCE, endpoint_of, retrain, roll_out
from driftloop.serving.endpoint_config import EndpointConfig, Variant
from tests.dataplane import data_plane, invoke_each
from tests.workspaces import endpoint_store

pytestmark = pytest.mark.slow
ENDPOINT = "churn"
SHIFTED_ROWS = 3000
# The shifted rules leave little to learn: no model reaches the default ROC AUC floor of 0.80.
FLOORS = {"roc_auc": 0.55}


def _with(settings: Settings, *, require_approval: bool = False, **policy: Any) -> Settings:
    """``settings`` with a retraining policy and the gate's approval switch."""
    gate = settings.gate.model_copy(update={"require_approval": require_approval})
    return settings.model_copy(update={"retrain": RetrainSettings(**policy), "gate": gate})


def _capture_labelled(
    settings: Settings, frame: pd.DataFrame, folder: Path, prefix: str = "shifted"
) -> None:
    """Send ``frame`` through the endpoint, then ingest its true labels by inference id."""
    records = frame.drop(columns=["customerID", "Churn"]).to_dict(orient="records")
    ids = invoke_each(data_plane(settings, ENDPOINT), records, prefix)
    labels = folder / "labels.csv"
    pd.DataFrame({"inference_id": ids, "label": frame["Churn"]}).to_csv(labels, index=False)
    ingest_labels(settings.workspace, ENDPOINT, labels, resolve_target(settings, ENDPOINT).spec)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """v1 champion behind ``churn``, then labelled concept-shifted traffic it scored."""
    root = tmp_path_factory.mktemp("retrain")
    settings = load_settings(home=root / ".driftloop")
    training = settings.training.model_copy(update={"candidates": ["logistic_regression"]})
    gate = settings.gate.model_copy(update={"min_metrics": FLOORS})
    settings = settings.model_copy(update={"training": training, "gate": gate})
    ws = settings.workspace
    generate(3000, seed=31).to_csv(root / "train.csv", index=False)
    preprocess(root / "train.csv", ws.prepared, settings.data, FolderSnapshotStore(ws.snapshots))
    train_and_register(settings)
    variants = (Variant(name="AllTraffic", model=CHAMPION),)
    endpoint_store(ws).save(
        EndpointConfig(name=ENDPOINT, model_name="churn-model", variants=variants)
    )
    shifted = generate(SHIFTED_ROWS, seed=32, scenario="concept_shift", strength=2.0)
    _capture_labelled(settings, shifted, root)
    return settings


def _retrain_events(settings: Settings) -> list[dict[str, Any]]:
    return [e for e in read_events(settings.workspace) if e["source"] == SOURCE]


def _aliases(settings: Settings) -> dict[str, int | None]:
    registry = MlflowRegistry(settings.workspace)
    name = settings.registry.model_name
    found = {alias: registry.get_by_alias(name, alias) for alias in (CHAMPION, CHALLENGER)}
    return {alias: version.version if version else None for alias, version in found.items()}


def test_too_few_labels_skips(trained: Settings) -> None:
    outcome = retrain(_with(trained, min_labels=SHIFTED_ROWS + 1), ENDPOINT)
    assert outcome.status == "skipped" and outcome.version is None
    assert outcome.labelled_rows == SHIFTED_ROWS
    assert f"{SHIFTED_ROWS} labelled captured rows" in outcome.reason
    assert _retrain_events(trained)[-1]["detail-type"] == "Retraining Skipped"


def test_labels_that_no_longer_fit_the_model_are_a_violation(trained: Settings) -> None:
    from datetime import UTC, datetime

    from driftloop.monitoring.job import run_monitoring

    until = datetime.now(UTC) + timedelta(seconds=1)
    run = run_monitoring(trained, ENDPOINT, until - timedelta(hours=1), until, report=False)
    checks = [v for v in run.violations if v.get("metric_name") == "roc_auc"]
    measured = run.quality["model_quality"]["roc_auc"]  # type: ignore[index]
    assert checks and checks[0]["constraint_check_type"] == "LessThanThreshold"
    assert (
        measured
        < float(
            MlflowRegistry(trained.workspace).get_version("churn-model", 1).tags["metric.roc_auc"]
        )
        - 0.05
    )
    assert run.status == "CompletedWithViolations"


def test_approval_required_leaves_a_pending_challenger(trained: Settings) -> None:
    outcome = retrain(_with(trained, require_approval=True), ENDPOINT)
    assert outcome.status == "retrained" and outcome.version == 2
    assert outcome.gate_passed and outcome.approval == PENDING
    assert outcome.challenger_metrics["roc_auc"] > outcome.champion_metrics["roc_auc"]
    assert _aliases(trained) == {CHAMPION: 1, CHALLENGER: 2}
    kinds = [e["detail-type"] for e in _retrain_events(trained)[-2:]]
    assert kinds == ["Retraining Started", "Retraining Completed"]
    assert _retrain_events(trained)[-1]["detail"]["version"] == 2


def test_cooldown_force_duplicates_and_daily_cap(trained: Settings) -> None:
    settings, event = _with(trained), {"id": "drift-1", "detail": {"endpoint": ENDPOINT}}
    cooling = retrain(settings, ENDPOINT, event={"id": "drift-0"})
    assert cooling.status == "skipped" and cooling.reason.startswith("cooldown")

    outcome = retrain(settings, ENDPOINT, event=event, force=True)
    assert outcome.status == "retrained" and outcome.version == 3 and outcome.gate_passed
    assert outcome.challenger_metrics["roc_auc"] > outcome.champion_metrics["roc_auc"] + 0.2
    # a passing retrain is a challenger: only a guarded deployment makes it champion
    assert _aliases(trained) == {CHAMPION: 1, CHALLENGER: 3}
    assert resolve_target(trained, ENDPOINT).version == 1
    assert roll_out(settings, ENDPOINT, cooling) is None  # a skipped retrain deploys nothing

    again = retrain(settings, ENDPOINT, event=event, force=True)
    assert (again.status, again.reason) == ("skipped", "duplicate event")
    capped = retrain(_with(trained, cooldown=timedelta(0), max_per_day=2), ENDPOINT)
    assert capped.status == "skipped" and "2 retrains in the last 24 h" in capped.reason


def test_retrain_command_reports_the_decision(
    trained: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRIFTLOOP_HOME", str(trained.home))
    app = typer.Typer()
    retrain_cli.register(app)
    result = CliRunner().invoke(app, ["--endpoint", ENDPOINT])
    assert result.exit_code == 0, result.output
    assert "skipped: cooldown" in result.output


def test_the_agent_retrains_the_endpoint_an_alarm_names(trained: Settings) -> None:
    dimensions = {"EndpointName": ENDPOINT, "VariantName": "AllTraffic"}
    metric = {"metricStat": {"metric": {"dimensions": dimensions}}}
    event = {
        "id": "alarm-1",
        "detail": {"alarmName": "auc-low", "configuration": {"metrics": [metric]}},
    }
    Agent(trained)._retrain(event)
    last = _retrain_events(trained)[-1]
    assert last["detail-type"] == "Retraining Skipped"
    assert last["detail"]["trigger"] == "alarm-1" and last["detail"]["endpoint"] == ENDPOINT
    assert last["detail"]["reason"].startswith("cooldown")


def test_the_endpoint_of_an_event(trained: Settings) -> None:
    alarm = {"configuration": {"metrics": [{"metricStat": {"metric": {"dimensions": {}}}}]}}
    dims = alarm["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
    assert endpoint_of(trained, {"detail": {"endpoint": "other"}}) == "other"
    assert endpoint_of(trained, {"detail": alarm}) == ENDPOINT  # the only endpoint
    dims["EndpointName"] = "named"
    assert endpoint_of(trained, {"detail": alarm}) == "named"
    variants = (Variant(name="AllTraffic", model=CHAMPION),)
    store = endpoint_store(trained.workspace)
    store.save(EndpointConfig(name="second", model_name="churn-model", variants=variants))
    with pytest.raises(ConfigError, match="2 endpoints"):
        endpoint_of(trained, {"id": "e", "detail": {"alarmName": "a"}})


def _predictions(settings: Settings, version: int, rows: pd.DataFrame) -> Any:
    model = MlflowRegistry(settings.workspace).load_model(settings.registry.model_name, version)
    return model.predict_proba(rows)[:, 1]


def test_two_retrains_on_the_same_captures_give_the_same_model(trained: Settings) -> None:
    settings = _with(trained, cooldown=timedelta(0), max_per_day=50)
    first = retrain(settings, ENDPOINT, force=True)
    second = retrain(settings, ENDPOINT, force=True)
    assert first.status == second.status == "retrained"
    assert (first.training_rows, first.recent_rows) == (second.training_rows, second.recent_rows)
    # each retrain is a pipeline run: the second reuses the first's training and registers anew
    store = PipelineStore(trained.workspace)
    assert first.pipeline_run and second.pipeline_run
    assert store.get_run(second.pipeline_run).pipeline == "retraining"
    steps = {s.step: s for s in store.steps(second.pipeline_run)}
    assert list(steps) == ["ingest", "validate", "train", "evaluate", "register"]
    assert steps["train"].cached_from is not None and steps["register"].cached_from is None
    assert second.version == steps["register"].outputs["version"] != first.version
    rows = generate(200, seed=40, scenario="concept_shift", strength=2.0)
    rows = rows.drop(columns=["customerID", "Churn"])
    assert (
        _predictions(trained, first.version, rows) == _predictions(trained, second.version, rows)
    ).all()


def test_a_retrained_champion_is_compared_only_on_traffic_it_never_saw(
    trained: Settings, tmp_path: Path
) -> None:
    from driftloop.registry.base import BASE_SNAPSHOT_TAG, UNTIL_TAG
    from driftloop.registry.lifecycle import promote
    from driftloop.retraining.data import Cut

    registry, name = MlflowRegistry(trained.workspace), trained.registry.model_name
    v1 = registry.get_version(name, 1)
    champion = promote(registry, name, 3)
    assert champion.tags[BASE_SNAPSHOT_TAG] == v1.train_snapshot
    base_rows = FolderSnapshotStore(trained.workspace.snapshots).get(v1.train_snapshot).rows
    _capture_labelled(
        trained, generate(1000, seed=33, scenario="concept_shift", strength=2.0), tmp_path, "later"
    )
    outcome = retrain(_with(trained, cooldown=timedelta(0), max_per_day=50), ENDPOINT, force=True)
    assert outcome.status == "retrained"
    # New to v3: its own hold-out (the newest 500 of the first rows) and the 1,000 later ones.
    assert outcome.labelled_rows == 500 + 1000
    assert outcome.recent_rows == 450  # the newest 30 % of those
    # Training: the original data once, plus every labelled row older than the hold-out, once.
    assert outcome.captured_in_training == SHIFTED_ROWS + 1000 - outcome.recent_rows
    assert outcome.training_rows == base_rows + outcome.captured_in_training
    newest = registry.get_version(name, outcome.version)
    assert Cut.from_text(newest.tags[UNTIL_TAG]) > Cut.from_text(champion.tags[UNTIL_TAG])
