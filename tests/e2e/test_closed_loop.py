"""The closed loop end to end, at small scale: the demo's story against a real endpoint process,
with each transition asserted; and no retraining when traffic does not drift."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import pytest
from sklearn.metrics import roc_auc_score

from driftloop.agent import Agent
from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.backends.local.rules import FileRuleStore
from driftloop.capture.labels import ingest_label_records
from driftloop.config import Settings, load_settings
from driftloop.data.dataset import read_typed
from driftloop.data.generator import generate
from driftloop.data.spec import target_vector
from driftloop.demo import DemoReport, run_demo
from driftloop.demo.config import DRIFT_ALARM, ENDPOINT, prepare
from driftloop.demo.training import train_first_model
from driftloop.events.log import read_events
from driftloop.monitoring.job import run_monitoring
from driftloop.monitoring.target import resolve_target
from tests.dataplane import data_plane, invoke_each
from tests.workspaces import endpoint_store

pytestmark = pytest.mark.slow
SMALL = {
    "rows": 2500,
    "normal_requests": 1000,
    "drifted_requests": 1800,
    "label_delay": "500ms",
    "bake": "4s",
    "workers": 1,
}


def _small(root: Path, **demo: Any) -> Settings:
    return load_settings(home=root / "unused", demo={"folder": root / "demo", **SMALL, **demo})


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoReport, Settings]:
    root = tmp_path_factory.mktemp("closed-loop")
    report = run_demo(_small(root))
    demo_settings = load_settings(root / "demo" / "driftloop.toml", home=root / "demo/.driftloop")
    return report, demo_settings


def _events(settings: Settings) -> list[dict[str, Any]]:
    return list(read_events(settings.workspace))


def test_normal_traffic_passes_and_drift_is_caught_by_the_first_drifted_window(
    story: tuple[DemoReport, Settings],
) -> None:
    report, _ = story
    normal, drifted = report.normal_run, report.drift_run
    assert normal is not None and drifted is not None
    assert (normal.status, normal.violations) == ("Completed", [])
    assert normal.quality is not None and normal.quality["model_quality"]["roc_auc"] > 0.75
    assert drifted.status == "CompletedWithViolations"
    assert "MonthlyCharges" in drifted.summary()["drifted_columns"]
    checks = {(v["feature_name"], v["constraint_check_type"]) for v in drifted.violations}
    assert ("MonthlyCharges", "baseline_drift_check") in checks
    assert (drifted.folder / "report.html").is_file()


def test_the_alarm_fires_and_notifies(story: tuple[DemoReport, Settings]) -> None:
    report, settings = story
    assert report.alarm_after_s is not None and report.alarm_after_s < 30
    assert SqliteAlarmStore(settings.workspace.root / "alarms.db").get(DRIFT_ALARM).state == "ALARM"
    notes = (settings.workspace.root / "notifications" / "ops.jsonl").read_text().splitlines()
    assert any(DRIFT_ALARM in line and "ALARM" in line for line in notes)


def test_retraining_makes_a_v2_that_beats_v1_on_drifted_data(
    story: tuple[DemoReport, Settings], tmp_path: Path
) -> None:
    report, settings = story
    detail = report.retrain
    assert detail is not None and detail["version"] == 2 and detail["gate_passed"]
    assert detail["challenger_metrics"]["roc_auc"] > detail["champion_metrics"]["roc_auc"]
    # unseen drifted customers, labelled: v2 ranks them better than v1
    fresh = generate(3000, 991, settings.demo.scenario, settings.demo.strength)
    registry, name = MlflowRegistry(settings.workspace), settings.registry.model_name
    fresh.to_csv(tmp_path / "fresh.csv", index=False)
    spec = resolve_target(settings, ENDPOINT).spec
    typed, _ = read_typed(tmp_path / "fresh.csv", settings.data, spec=spec)
    features, truth = typed[spec.features], target_vector(typed, spec)
    auc = {
        v: roc_auc_score(truth, registry.load_model(name, v).predict_proba(features)[:, 1])
        for v in (1, 2)
    }
    assert auc[2] > auc[1] + 0.02, auc


def test_the_canary_is_promoted_and_the_bad_challenger_rolled_back(
    story: tuple[DemoReport, Settings],
) -> None:
    report, settings = story
    assert report.rollout is not None and report.rollout["step"] == "completed"
    steps = [e["detail"] for e in _events(settings) if e["detail-type"] == "Deployment Step"]
    v2 = [s["step"] for s in steps if s["version"] == 2]
    assert v2 == ["canary", "all-traffic", "completed"]
    canary = next(s for s in steps if s["version"] == 2 and s["step"] == "canary")
    assert canary["weights"] == {"AllTraffic": 0.9, "Candidate": 0.1}
    bad = report.bad
    assert bad is not None and bad.status == "rolled_back" and bad.version == 1
    assert "churn-candidate-latency" in bad.reason
    assert [s["step"] for s in steps if s["version"] == 1] == ["canary", "rolled_back"]
    assert report.champion == 2
    final = endpoint_store(settings.workspace).get(ENDPOINT)
    assert [(v.name, v.model, v.weight) for v in final.variants] == [("AllTraffic", "2", 1.0)]


def test_no_client_request_failed_and_the_endpoint_stopped(
    story: tuple[DemoReport, Settings],
) -> None:
    report, settings = story
    assert report.requests > 2800 and report.failed_requests == 0
    assert (settings.workspace.reports / "demo" / "timeline.png").stat().st_size > 10_000
    kinds = [e["detail-type"] for e in _events(settings)]
    order = ["CloudWatch Alarm State Change", "Retraining Started", "Retraining Completed"]
    assert _in_order(kinds, order)
    assert report.endpoint_url is not None
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"{report.endpoint_url}/ping", timeout=2)


def _in_order(kinds: list[str], wanted: list[str]) -> bool:
    """Whether ``wanted`` occurs in ``kinds`` in this order (other kinds in between)."""
    position = 0
    for kind in kinds:
        if position < len(wanted) and kind == wanted[position]:
            position += 1
    return position == len(wanted)


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo's workspace, rules and v1 behind the endpoint, but no server and no traffic."""
    root = tmp_path_factory.mktemp("quiet")
    settings, _ = prepare(_small(root))
    settings = settings.model_copy(
        update={"retrain": settings.retrain.model_copy(update={"deploy": False})}
    )
    train_first_model(settings, DemoReport(), lambda _message: None, ENDPOINT)
    for rule in settings.rules:  # what the agent puts at start
        FileRuleStore(settings.workspace.rules_file).put(rule)
    return settings


@pytest.mark.parametrize("seed", [101, 202, 303, 404])
def test_undrifted_traffic_never_retrains(quiet: Settings, seed: int) -> None:
    frame = generate(SMALL["normal_requests"], seed)
    since = datetime.now(UTC).replace(microsecond=0)
    records = frame.drop(columns=["customerID", "Churn"]).to_dict(orient="records")
    ids = invoke_each(data_plane(quiet, ENDPOINT), records, f"quiet-{seed}")
    labels = [{"inference_id": i, "label": y} for i, y in zip(ids, frame["Churn"], strict=True)]
    ingest_label_records(quiet.workspace, ENDPOINT, labels, resolve_target(quiet, ENDPOINT).spec)
    until = datetime.now(UTC) + timedelta(seconds=1)
    run = run_monitoring(quiet, ENDPOINT, since, until, report=False)
    assert (run.status, run.violations) == ("Completed", []), run.violations
    seen = len(_events(quiet))
    agent = Agent(quiet)
    for offset in (0, 11, 21):  # the run's 10-second bucket, complete, then the next one
        agent.tick(datetime.now(UTC) + timedelta(seconds=offset))
    assert SqliteAlarmStore(quiet.workspace.root / "alarms.db").get(DRIFT_ALARM).state == "OK"
    later = [e["detail-type"] for e in islice(read_events(quiet.workspace), seen, None)]
    assert not [kind for kind in later if kind.startswith("Retraining")], later


def test_report_rows_name_every_step(story: tuple[DemoReport, Settings]) -> None:
    report, _ = story
    steps = [row[0] for row in report.rows]
    for step in ("pipeline: train", "endpoint", "monitor: normal traffic", "monitor: drift"):
        assert step in steps
    # v1 came from the training pipeline, whose deploy step created the endpoint
    assert [(s.step, s.status) for s in report.training] == [
        (name, "Succeeded")
        for name in ("ingest", "validate", "train", "evaluate", "register", "deploy")
    ]
    assert report.training[-1].outputs["action"] == "created"
    where = {row[0]: row[2] for row in report.rows}
    assert report.folder is not None
    assert (report.folder / where["pipeline: train"] / "roc_curve.png").is_file()
    assert (report.folder / where["monitor: drift"]).name == "report.html"
    assert "alarm" in steps
    for step in ("retrain", "canary roll-out", "bad challenger", "traffic"):
        assert step in steps
    assert orjson.dumps(report.rows)  # plain strings only


def test_sustained_drift_keeps_retraining_and_the_served_model_keeps_up(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Three drifted windows in a row: each violating run asks for a retrain, each passing
    challenger is promoted, and what the endpoint serves beats the static v1 on the drift."""
    from driftloop.registry.base import CHALLENGER, CHAMPION
    from driftloop.registry.lifecycle import promote

    root = tmp_path_factory.mktemp("sustained")
    settings, _ = prepare(_small(root))
    policy = {"deploy": False, "cooldown": timedelta(0), "max_per_day": 20, "min_labels": 100}
    settings = settings.model_copy(update={"retrain": settings.retrain.model_copy(update=policy)})
    train_first_model(settings, DemoReport(), lambda _message: None, ENDPOINT)
    registry, name = MlflowRegistry(settings.workspace), settings.registry.model_name
    static, agent = registry.load_model(name, 1), Agent(settings)
    spec = resolve_target(settings, ENDPOINT).spec
    violating, served, unchanged = 0, [], []
    for window in range(3):
        frame = generate(1200, 600 + window, "price_shock", 1.0)
        rows = frame.drop(columns=["customerID", "Churn"])
        since = datetime.now(UTC).replace(microsecond=0)
        ids = invoke_each(data_plane(settings, ENDPOINT), rows.to_dict("records"), f"w{window}")
        labels = [{"inference_id": i, "label": y} for i, y in zip(ids, frame["Churn"], strict=True)]
        ingest_label_records(settings.workspace, ENDPOINT, labels, spec)
        until = datetime.now(UTC) + timedelta(seconds=1)
        run = run_monitoring(settings, ENDPOINT, since, until, report=False)
        violating += run.status == "CompletedWithViolations"
        served.append(run.quality["model_quality"]["roc_auc"])  # what the endpoint answered
        frame.to_csv(root / f"w{window}.csv", index=False)
        typed, _ = read_typed(root / f"w{window}.csv", settings.data, spec=spec)
        proba = static.predict_proba(typed[spec.features])[:, 1]
        unchanged.append(roc_auc_score(target_vector(typed, spec), proba))
        agent.tick(datetime.now(UTC))  # the rule delivers the run's event: a retrain
        challenger = registry.get_by_alias(name, CHALLENGER)
        if challenger is not None:  # roll it out all at once (what `driftloop deploy` ends in)
            promote(registry, name, challenger.version)
            store = endpoint_store(settings.workspace)
            config = store.get(ENDPOINT)
            variant = config.variants[0].model_copy(update={"model": str(challenger.version)})
            store.save(config.model_copy(update={"variants": (variant,)}))
    retrains = [e for e in _events(settings) if e["detail-type"] == "Retraining Completed"]
    assert violating >= 2 and len(retrains) == violating  # every violating run retrained
    assert registry.get_by_alias(name, CHAMPION).version > 1  # type: ignore[union-attr]
    # The first window was served by v1; later ones by what the loop promoted.
    assert served[0] == pytest.approx(unchanged[0], abs=1e-9)
    assert min(b - a for a, b in zip(unchanged[1:], served[1:], strict=True)) > 0.01, served
