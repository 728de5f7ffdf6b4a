"""The training pipeline end to end on generated data: cached steps, idempotent register and
deploy, failures and resume (also of a run whose process was killed), lineage, and the
``driftloop pipeline`` commands.

The tests share one workspace and run in file order: each leaves the registry as the next expects.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from driftloop.backends.local.registry import MlflowRegistry
from driftloop.cli import pipeline as pipeline_cli
from driftloop.config import DataSettings, PipelineSettings, Settings
from driftloop.data.dataset import spec_from_settings
from driftloop.data.generator import generate
from driftloop.data.readers import read_table
from driftloop.data.split import stratified_split
from driftloop.errors import ConfigError, NotFoundError, TrainingError, ViolationsFound
from driftloop.events.log import read_events
from driftloop.pipelines import training as training_pipeline
from driftloop.pipelines.lineage import lineage
from driftloop.pipelines.runner import PipelineFailed, PipelineStateError
from driftloop.pipelines.steps import runs_folder
from driftloop.pipelines.store import (
    EXECUTING,
    FAILED,
    SKIPPED,
    SUCCEEDED,
    PipelineStore,
    StepRecord,
    orphaned,
)
from driftloop.pipelines.training import resume_training, run_training
from driftloop.registry.base import CHAMPION
from tests.waiting import wait_until
from tests.workspaces import BASE_TOML, endpoint_store, service_env, settings_for

pytestmark = pytest.mark.slow
ENDPOINT = "churn"
STEPS = ["ingest", "validate", "train", "evaluate", "register", "deploy"]
CACHEABLE = STEPS[:4]
VIOLATIONS = "constraint_violations.json"
FAST_DEPLOY = '[deploy]\nstrategy = "all-at-once"\nbake = "PT1S"\npoll = "PT1S"\n'


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pipeline")
    (root / "driftloop.toml").write_text(BASE_TOML + FAST_DEPLOY)
    generate(2000, seed=11).to_csv(root / "telco.csv", index=False)
    return root


@pytest.fixture
def settings(root: Path) -> Settings:
    return settings_for(root)


def _steps(settings: Settings, run_id: str) -> dict[str, StepRecord]:
    return {step.step: step for step in PipelineStore(settings.workspace).steps(run_id)}


def _first_run(settings: Settings) -> str:
    return PipelineStore(settings.workspace).list_runs()[-1].run_id


def _versions(settings: Settings) -> list[int]:
    registry = MlflowRegistry(settings.workspace)
    return [v.version for v in registry.list_versions(settings.registry.model_name)]


def _with_training_seed(settings: Settings, seed: int) -> Settings:
    return settings.model_copy(
        update={"training": settings.training.model_copy(update={"seed": seed})}
    )


def test_first_run_executes_every_step_and_records_lineage(root: Path, settings: Settings) -> None:
    run = run_training(settings, root / "telco.csv", endpoint=ENDPOINT)
    assert run.status == SUCCEEDED and run.error is None
    steps = _steps(settings, run.run_id)
    assert list(steps) == STEPS
    assert {(s.status, s.cached_from, s.attempt) for s in steps.values()} == {(SUCCEEDED, None, 1)}
    ingest, validate, train = (steps[name].outputs for name in ("ingest", "validate", "train"))
    registered, deployed = steps["register"].outputs, steps["deploy"].outputs
    assert validate["violations"] == 0 and Path(validate["report"]).is_file()
    evaluated = steps["evaluate"].outputs
    assert evaluated["passed"] and Path(evaluated["report"]).is_file()

    ws = settings.workspace
    version = MlflowRegistry(ws).get_version(settings.registry.model_name, 1)
    assert (registered["version"], registered["reused"]) == (1, False)
    assert version.tags["pipeline_run"] == run.run_id
    assert version.train_snapshot == ingest["train_snapshot"]
    assert version.run_id == train["best"]["run_id"] and version.aliases == (CHAMPION,)
    assert (deployed["action"], deployed["revision"]) == ("created", 1)
    served = endpoint_store(ws).get(ENDPOINT).variants
    assert [(v.name, v.model) for v in served] == [("AllTraffic", "1")]
    inputs = MlflowClient(ws.tracking_uri).get_run(version.run_id).inputs.dataset_inputs
    assert {d.dataset.name for d in inputs} == {ingest["train_snapshot"], ingest["val_snapshot"]}

    links = {link.kind: link for link in lineage(run, list(steps.values()))}
    assert list(links) == [
        "input",
        "train snapshot",
        "val snapshot",
        "baseline",
        "MLflow run",
        "model version",
        "endpoint config",
    ]
    assert ingest["input_digest"][:16] in links["input"].ref
    assert links["baseline"].ref.endswith(ingest["train_snapshot"])
    assert links["MLflow run"].ref.startswith(version.run_id)
    assert links["model version"].derived_from == f"MLflow run {version.run_id}"
    assert links["endpoint config"].ref == f"{ENDPOINT} revision 1 (created)"

    mine = [e["detail"] for e in read_events(ws) if e["detail"].get("runId") == run.run_id]
    assert [d.get("currentPipelineExecutionStatus") for d in mine if "stepName" not in d] == [
        "Executing",
        "Succeeded",
    ]
    assert [d["stepName"] for d in mine if "stepName" in d] == STEPS


def test_an_identical_run_takes_its_steps_from_the_cache(root: Path, settings: Settings) -> None:
    first = _first_run(settings)
    again = run_training(settings, root / "telco.csv", endpoint=ENDPOINT)
    steps = _steps(settings, again.run_id)
    assert {name: step.cached_from for name, step in steps.items()} == {
        **dict.fromkeys(CACHEABLE, first),
        "register": None,
        "deploy": None,
    }
    assert steps["train"].outputs == _steps(settings, first)["train"].outputs  # same MLflow run
    assert steps["register"].outputs["reused"] and steps["register"].outputs["version"] == 1
    assert _versions(settings) == [1]
    deployed = steps["deploy"].outputs
    assert (deployed["action"], deployed["revision"]) == ("unchanged", 1)
    assert endpoint_store(settings.workspace).get(ENDPOINT).revision == 1


def test_changes_invalidate_only_the_steps_that_depend_on_them(
    root: Path, settings: Settings
) -> None:
    first = _first_run(settings)
    before = _steps(settings, first)
    renamed = pd.read_csv(root / "telco.csv")  # new ids only: the snapshots stay the same
    renamed["customerID"] = [f"C-{n}" for n in range(len(renamed))]
    renamed.to_csv(root / "renamed.csv", index=False)
    run = run_training(settings, root / "renamed.csv")
    steps = _steps(settings, run.run_id)
    assert steps["ingest"].cached_from is None
    assert steps["ingest"].outputs["train_snapshot"] == before["ingest"].outputs["train_snapshot"]
    assert [steps[name].cached_from for name in CACHEABLE[1:]] == [first] * 3
    assert steps["deploy"].status == SKIPPED
    assert steps["deploy"].outputs == {"reason": "no endpoint given"}

    reseeded = _with_training_seed(settings, 7)
    run = run_training(reseeded, root / "telco.csv", endpoint=ENDPOINT)
    steps = _steps(settings, run.run_id)
    assert [steps[name].cached_from for name in CACHEABLE] == [first, first, None, None]
    new_run = steps["train"].outputs["best"]["run_id"]
    assert new_run != before["train"].outputs["best"]["run_id"]
    assert steps["register"].outputs == {
        **steps["register"].outputs,
        "version": 2,
        "run_id": new_run,
        "reused": False,
    }
    deployed = steps["deploy"].outputs
    assert deployed["action"] == "completed"  # a guarded, all-at-once deployment
    served = endpoint_store(settings.workspace).get(ENDPOINT)
    assert served.revision == deployed["revision"] > 1
    assert [v.model for v in served.variants] == ["2"]
    registry = MlflowRegistry(settings.workspace)
    assert registry.get_by_alias(settings.registry.model_name, CHAMPION).version == 2


def test_an_expired_cache_recomputes_every_step(root: Path, settings: Settings) -> None:
    expired = settings.model_copy(
        update={"pipeline": PipelineSettings(cache_expire_after=timedelta(0))}
    )
    run = run_training(expired, root / "telco.csv")
    steps = _steps(settings, run.run_id)
    assert [steps[name].cached_from for name in CACHEABLE] == [None] * 4
    assert steps["register"].outputs["version"] == 3


def test_a_failed_step_fails_the_run_and_resume_continues_from_it(
    root: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    reseeded = _with_training_seed(settings, 99)
    versions = _versions(settings)

    def out_of_memory(*_args: object) -> None:
        raise TrainingError("out of memory")

    monkeypatch.setattr(training_pipeline, "train_candidates", out_of_memory)
    with pytest.raises(PipelineFailed, match="failed at step train: out of memory") as failed:
        run_training(reseeded, root / "telco.csv")
    assert failed.value.exit_code == TrainingError.exit_code
    run_id = failed.value.details["run"]
    run = PipelineStore(settings.workspace).get_run(run_id)
    assert (run.status, run.failed_step, run.error) == (FAILED, "train", "train: out of memory")
    before = _steps(settings, run_id)
    assert [(name, s.status) for name, s in before.items()] == [
        ("ingest", SUCCEEDED),
        ("validate", SUCCEEDED),
        ("train", FAILED),
    ]
    assert _versions(settings) == versions

    monkeypatch.undo()
    assert resume_training(reseeded, run_id).status == SUCCEEDED
    after = _steps(settings, run_id)
    assert after["ingest"] == before["ingest"] and after["validate"] == before["validate"]
    assert (after["train"].status, after["train"].attempt) == (SUCCEEDED, 2)
    version = after["register"].outputs["version"]
    assert _versions(settings) == [*versions, version]
    registry = MlflowRegistry(settings.workspace)
    tags = registry.get_version(settings.registry.model_name, version).tags
    assert tags["pipeline_run"] == run_id
    with pytest.raises(PipelineStateError, match="is Succeeded; only a Failed run can be resumed"):
        resume_training(reseeded, run_id)


def _breaks_validation(root: Path) -> Path:
    """The generated data with one blank MonthlyCharges in a row the split puts in validation."""
    raw = read_table(root / "telco.csv")
    data = DataSettings()
    _, val = stratified_split(
        raw, spec_from_settings(raw, data), fraction=data.validation_fraction, seed=data.seed
    )
    raw.loc[raw["customerID"] == val["customerID"].iloc[0], "MonthlyCharges"] = None
    raw.to_csv(root / "blank.csv", index=False)
    return root / "blank.csv"


def test_the_pipeline_commands(root: Path, settings: Settings) -> None:
    app = typer.Typer()
    app.add_typer(pipeline_cli.app, name="pipeline")
    runner, env = CliRunner(), service_env(root)
    versions = _versions(settings)

    args = ["pipeline", "run", "--input", str(_breaks_validation(root)), "--fail-on-violation"]
    failed = runner.invoke(app, args, env=env)
    assert isinstance(failed.exception, PipelineFailed), failed.output
    assert failed.exception.exit_code == ViolationsFound.exit_code
    assert "failed at step validate: the validation split breaks 1 constraint" in str(
        failed.exception
    )
    assert "validate: Failed" in failed.output
    run_id = failed.exception.details["run"]
    report = json.loads((runs_folder(settings) / run_id / "validate" / VIOLATIONS).read_text())
    assert [(v["feature_name"], v["constraint_check_type"]) for v in report["violations"]] == [
        ("MonthlyCharges", "completeness_check")
    ]
    assert _versions(settings) == versions

    shown = runner.invoke(app, ["pipeline", "show", run_id], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Failed" in shown.output and "train snapshot" in shown.output

    again = runner.invoke(app, ["pipeline", "run", "--resume", run_id], env=env)
    assert isinstance(again.exception, PipelineFailed)
    steps = _steps(settings, run_id)
    assert [(s.step, s.attempt) for s in steps.values()] == [("ingest", 1), ("validate", 2)]

    listed = runner.invoke(app, ["pipeline", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert run_id in listed.output and _first_run(settings) in listed.output

    done = runner.invoke(app, ["pipeline", "run", "--resume", _first_run(settings)], env=env)
    assert isinstance(done.exception, PipelineStateError)
    assert "is Succeeded; only a Failed run can be resumed" in str(done.exception)
    unknown = runner.invoke(app, ["pipeline", "show", "run-nope"], env=env)
    assert isinstance(unknown.exception, NotFoundError) and "run-nope" in str(unknown.exception)
    assert unknown.exception.exit_code != 0
    bare = runner.invoke(app, ["pipeline", "run"], env=env)
    assert isinstance(bare.exception, ConfigError) and "--input" in str(bare.exception)


def test_the_entry_point_exits_with_the_error_code(
    root: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in service_env(root).items():
        monkeypatch.setenv(key, value)
    unknown = cli("pipeline", "show", "run-nope")
    assert unknown.code == NotFoundError.exit_code and "no pipeline run 'run-nope'" in unknown.err
    listed = cli("pipeline", "list")
    assert listed.code == 0 and "Succeeded" in listed.out and "Failed" in listed.out


def _wait_for_step(store: PipelineStore, known: set[str], step: str, timeout: float) -> str:
    """The id of a new run once ``step`` is Executing in it."""

    def new_run() -> str | None:
        for run in store.list_runs():
            if run.run_id not in known and any(
                s.step == step and s.status == EXECUTING for s in store.steps(run.run_id)
            ):
                return run.run_id
        return None

    return wait_until(new_run, timeout, interval_s=0.02, what=f"a new run reaching step {step}")


def test_a_run_killed_mid_step_is_orphaned_and_resumes(root: Path, settings: Settings) -> None:
    env = {**service_env(root), "DRIFTLOOP_TRAINING__SEED": "123"}  # train misses the cache
    store = PipelineStore(settings.workspace)
    known = {run.run_id for run in store.list_runs(1000)}
    versions = _versions(settings)
    command = [str(Path(sys.executable).with_name("driftloop")), "pipeline", "run"]
    child = subprocess.Popen(
        [*command, "--input", str(root / "telco.csv")],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        run_id = _wait_for_step(store, known, "train", timeout=120)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # no handler runs: the run stays Executing
        child.wait()
    run = store.get_run(run_id)
    assert run.status == EXECUTING and run.owner is not None and run.owner.pid == child.pid
    assert orphaned(run)

    app = typer.Typer()
    app.add_typer(pipeline_cli.app, name="pipeline")
    runner = CliRunner()
    listed = runner.invoke(app, ["pipeline", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    (row,) = (line for line in listed.output.splitlines() if run_id in line)
    assert "Executing (orphaned)" in row
    shown = runner.invoke(app, ["pipeline", "show", run_id], env=env)
    assert f"orphaned: process {child.pid} on {run.owner.host} is gone" in shown.output

    resumed = runner.invoke(app, ["pipeline", "run", "--resume", run_id], env=env)
    assert resumed.exit_code == 0, resumed.output
    gone = f"interrupted: process {child.pid} on {run.owner.host} is gone"
    assert "train: Failed in" in resumed.output and gone in resumed.output
    assert store.get_run(run_id).status == SUCCEEDED
    steps = _steps(settings, run_id)
    assert [(s.step, s.attempt, s.status) for s in steps.values()] == [
        ("ingest", 1, SUCCEEDED),
        ("validate", 1, SUCCEEDED),
        ("train", 2, SUCCEEDED),
        ("evaluate", 1, SUCCEEDED),
        ("register", 1, SUCCEEDED),
        ("deploy", 1, SKIPPED),
    ]
    assert _versions(settings) == [*versions, steps["register"].outputs["version"]]
