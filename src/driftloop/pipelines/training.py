"""The training path as a pipeline: ingest, validate, train, evaluate, register, deploy.

The first four steps are cached by their inputs; register and deploy are not, and are
idempotent: a model already registered from the same MLflow run keeps its version, and an
endpoint already serving the version is left alone (the deploy step lives in
:mod:`driftloop.pipelines.deploy_step`). Each step's outputs name what it made,
so every run's lineage (:mod:`driftloop.pipelines.lineage`) can be read back from the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftloop.config import Settings
from driftloop.data.dataset import Dataset
from driftloop.data.preprocess import preprocess
from driftloop.data.snapshot import SnapshotStore
from driftloop.data.spec import TabularSpec
from driftloop.errors import ConfigError, NotFoundError, ViolationsFound
from driftloop.flows import baseline_for
from driftloop.pipelines import runner as pipeline
from driftloop.pipelines.deploy_step import deploy_step
from driftloop.pipelines.steps import Context, Outputs, Pipeline, Step, file_digest
from driftloop.pipelines.store import RunRecord, StepRecord
from driftloop.registry.base import CHAMPION, TRAIN_SNAPSHOT_TAG, ModelRegistry, ModelVersion
from driftloop.registry.gate import Check, GateResult
from driftloop.registry.lifecycle import find_version, gate_candidate, register_gated
from driftloop.serving.endpoint_config import check_name
from driftloop.training.trainer import CandidateResult, best_candidate, train_candidates
from driftloop.validation import verify
from driftloop.workspace import atomic_write_text

PIPELINE_RUN_TAG = "pipeline_run"
SNAPSHOTS = ("ingest.train_snapshot", "ingest.val_snapshot", "ingest.spec")


def run_training(
    settings: Settings,
    input_csv: Path,
    *,
    endpoint: str | None = None,
    fail_on_violation: bool = False,
    cache: bool = True,
    on_step: Callable[[StepRecord], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> RunRecord:
    """Run the training pipeline on a raw CSV; deploy to ``endpoint`` when one is given.

    ``fail_on_violation`` fails the validate step when the validation split breaks the
    training baseline's constraints (otherwise they are only reported).
    """
    if not input_csv.is_file():
        raise NotFoundError(f"input file not found: {input_csv}", details={"file": str(input_csv)})
    if endpoint is not None:
        try:
            check_name(endpoint, "endpoint name")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    params = {
        "input": str(input_csv.resolve()),
        "endpoint": endpoint,
        "fail_on_violation": fail_on_violation,
    }
    return pipeline.run(TRAINING, settings, params, cache=cache, on_step=on_step, say=say)


def resume_training(
    settings: Settings,
    run_id: str,
    *,
    cache: bool = True,
    on_step: Callable[[StepRecord], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> RunRecord:
    """Continue a Failed (or orphaned) training run from its failed step, with its own
    parameters."""
    return pipeline.resume(TRAINING, settings, run_id, cache=cache, on_step=on_step, say=say)


# ingest: raw CSV -> typed, split, snapshotted train/val


def _ingest(ctx: Context) -> Outputs:
    source = Path(ctx.params["input"])
    prepared = preprocess(source, ctx.folder, ctx.settings.data, _snapshots(ctx))
    return {
        "input_digest": file_digest(source),
        "train_snapshot": prepared.train.digest,
        "val_snapshot": prepared.val.digest,
        "train_rows": prepared.train.rows,
        "val_rows": prepared.val.rows,
        "spec": prepared.spec.to_dict(),
        "prepared": str(ctx.folder.resolve()),
    }


def _snapshots(ctx: Context) -> SnapshotStore:
    return ctx.stores.snapshots


def _snapshots_exist(ctx: Context, outputs: Outputs) -> bool:
    store = _snapshots(ctx)
    try:
        for digest in (outputs["train_snapshot"], outputs["val_snapshot"]):
            store.get(digest)
    except NotFoundError:
        return False
    return True


def _dataset(ctx: Context, side: str) -> Dataset:
    """The ingested ``train`` or ``val`` snapshot as a dataset."""
    store = _snapshots(ctx)
    snapshot = store.get(ctx.get(f"ingest.{side}_snapshot"))
    spec = TabularSpec.from_dict(ctx.get("ingest.spec"))
    return Dataset(store.read(snapshot.digest), spec, snapshot, source=snapshot.uri)


# validate: baseline the train snapshot, verify the val snapshot against it


def _validate(ctx: Context) -> Outputs:
    baseline = baseline_for(ctx.settings, _dataset(ctx, "train"))
    result = verify(_dataset(ctx, "val").frame, baseline.constraints)
    report = ctx.folder / "constraint_violations.json"
    atomic_write_text(report, json.dumps(result, indent=2))
    count = len(result["violations"])
    if count and ctx.params["fail_on_violation"]:
        raise ViolationsFound(
            f"the validation split breaks {count} constraint(s) of the training baseline "
            f"(report: {report.resolve()})",
            details={"report": str(report.resolve())},
        )
    return {
        "baseline": str(baseline.constraints_path.parent.resolve()),
        "violations": count,
        "report": str(report.resolve()),
    }


def _validate_params(ctx: Context) -> dict[str, Any]:
    return {"fail_on_violation": ctx.params["fail_on_violation"]}


def _baseline_exists(ctx: Context, outputs: Outputs) -> bool:
    folder = Path(outputs["baseline"])
    files = (folder / "constraints.json", folder / "statistics.json", Path(outputs["report"]))
    return all(path.is_file() for path in files)


# train: fit every candidate as an MLflow run


def _train(ctx: Context) -> Outputs:
    results = train_candidates(_dataset(ctx, "train"), _dataset(ctx, "val"), ctx.settings, ctx.say)
    best = best_candidate(results, ctx.settings.training.primary_metric)
    return {"candidates": [asdict(result) for result in results], "best": asdict(best)}


def _training_params(ctx: Context) -> dict[str, Any]:
    return ctx.settings.training.model_dump(mode="json")


def _runs_exist(ctx: Context, outputs: Outputs) -> bool:
    client = MlflowClient(ctx.settings.workspace.tracking_uri)
    try:
        runs = [client.get_run(c["run_id"]) for c in outputs["candidates"]]
    except MlflowException:
        return False
    return all(run.info.lifecycle_stage == "active" for run in runs)


# evaluate: the gate (floors and the champion), without registering


def _evaluate(ctx: Context) -> Outputs:
    registry = ctx.stores.registry
    best = CandidateResult(**ctx.get("train.best"))
    holdout = _dataset(ctx, "val")
    gate = gate_candidate(registry, best, holdout, ctx.settings, _rival(ctx, registry))
    report = ctx.folder / "gate.json"
    atomic_write_text(report, gate.to_json())
    return {
        "passed": gate.passed,
        "gate": json.loads(gate.to_json()),
        "report": str(report.resolve()),
    }


def _report_exists(_ctx: Context, outputs: Outputs) -> bool:
    return Path(outputs["report"]).is_file()


def _rival(ctx: Context, registry: ModelRegistry) -> ModelVersion | None:
    """The champion the candidate is compared with: never a version of the candidate itself
    (an identical earlier run registered it), which is compared as if there were none."""
    champion = registry.get_by_alias(ctx.settings.registry.model_name, CHAMPION)
    if champion is None or champion.run_id == ctx.get("train.best")["run_id"]:
        return None
    return champion


def _gate_params(ctx: Context) -> dict[str, Any]:
    rival = _rival(ctx, ctx.stores.registry)
    return {
        "gate": ctx.settings.gate.model_dump(mode="json"),
        "metric": ctx.settings.training.primary_metric,
        "threshold": ctx.settings.training.threshold,
        "model": ctx.settings.registry.model_name,
        "champion": rival.version if rival else None,
    }


# register: a version from evaluate's verdict (reused when the run was registered before)


def _register(ctx: Context) -> Outputs:
    registry = ctx.stores.registry
    name = ctx.settings.registry.model_name
    best = CandidateResult(**ctx.get("train.best"))
    # A retrain registers every time (param "reuse_version" False), like SageMaker's
    # RegisterModel step: its approval follows today's policy even when training was cached.
    reuse = ctx.params.get("reuse_version", True)
    version = find_version(registry, name, best.run_id) if reuse else None
    reused = version is not None
    if version is None:
        tags = {
            TRAIN_SNAPSHOT_TAG: ctx.get("ingest.train_snapshot"),
            PIPELINE_RUN_TAG: ctx.run_id,
            **ctx.params.get("tags", {}),
        }
        baseline = Path(ctx.get("validate.baseline"))
        uri = ctx.stores.artifacts.put_folder(f"baselines/{baseline.name}", baseline)
        gate = _gate_result(ctx.get("evaluate.gate"))
        # With an endpoint, the deploy step moves the champion alias once traffic has moved;
        # a retrain's version waits for its guarded deployment (param "promote" False).
        promote_now = ctx.params.get("promote", ctx.params.get("endpoint") is None)
        registration = register_gated(
            registry, best, gate, ctx.settings, uri, tags, promote=promote_now
        )
        version = registration.version
    return {
        "model": name,
        "version": version.version,
        "run_id": best.run_id,
        "approval": version.approval,
        "aliases": list(version.aliases),
        "reused": reused,
    }


def _gate_result(recorded: dict[str, Any]) -> GateResult:
    checks = tuple(Check(**check) for check in recorded["checks"])
    return GateResult(checks, recorded["champion_version"])


TRAINING = Pipeline(
    "training",
    (
        Step(
            "ingest",
            _ingest,
            params=lambda ctx: ctx.settings.data.model_dump(mode="json"),
            files=lambda ctx: [Path(ctx.params["input"])],
            still_valid=_snapshots_exist,
        ),
        Step(
            "validate",
            _validate,
            uses=SNAPSHOTS,
            params=_validate_params,
            still_valid=_baseline_exists,
        ),
        Step("train", _train, uses=SNAPSHOTS, params=_training_params, still_valid=_runs_exist),
        Step(
            "evaluate",
            _evaluate,
            uses=("train.best", *SNAPSHOTS),
            params=_gate_params,
            still_valid=_report_exists,
        ),
        Step("register", _register, cacheable=False),
        Step("deploy", deploy_step, cacheable=False),
    ),
)
