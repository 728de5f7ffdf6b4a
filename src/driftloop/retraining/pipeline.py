"""A retrain as a pipeline run: the retrain's own split, then the training pipeline's
validate, train, evaluate and register steps.

So a retrain has a run record, step caching (two retrains on the same rows reuse the same
baseline and MLflow runs) and lineage, like ``driftloop pipeline run``. Every retrain
registers a version, with ``promote`` off: a passing retrain becomes challenger, and only a
guarded deployment makes it champion.

Each run carries its retrain's claim (param ``retrain_claim``), so carrying a claim out again
after its process died resumes that run: steps it finished are reused, and a version it
registered just before dying is recognised by its ``pipeline_run`` tag, not registered twice.

Fault rehearsal: with ``PAUSE_DRIFTLOOP_AT=registered`` in its environment a process stops for an
hour once the register step made its version, before the step is recorded, so a test can kill it
exactly there. Nothing sets it outside such tests (its name lies outside the ``DRIFTLOOP_``
prefix, which settings own).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from driftloop.config import Settings
from driftloop.flows import load_pair
from driftloop.pipelines import runner as pipeline
from driftloop.pipelines.steps import Context, Outputs, Pipeline, Step
from driftloop.pipelines.store import SUCCEEDED, PipelineStore, RunRecord
from driftloop.pipelines.training import PIPELINE_RUN_TAG, TRAINING
from driftloop.registry.base import CHALLENGER, CHAMPION

log = logging.getLogger(__name__)
_SHARED = {step.name: step for step in TRAINING.steps}
PAUSE_ENV = "PAUSE_DRIFTLOOP_AT"
RECENT_RUNS = 500  # how far back a claim's earlier run is looked for


def _split(ctx: Context) -> Outputs:
    """Snapshot the retrain's training rows and hold-out, as ingest does for a raw CSV."""
    train, val = load_pair(ctx.settings, Path(ctx.params["train"]), Path(ctx.params["val"]))
    return {
        "train_snapshot": train.snapshot.digest,
        "val_snapshot": val.snapshot.digest,
        "train_rows": train.snapshot.rows,
        "val_rows": val.snapshot.rows,
        "spec": train.spec.to_dict(),
    }


def _register(ctx: Context) -> Outputs:
    """The training pipeline's register step, unless this run registered a version already
    (its process died before the step was recorded): that version is kept, with the
    challenger alias a passing version gets."""
    registry, name = ctx.stores.registry, ctx.settings.registry.model_name
    mine = [v for v in registry.list_versions(name) if v.tags.get(PIPELINE_RUN_TAG) == ctx.run_id]
    if not mine:
        outputs = _SHARED["register"].run(ctx)
        _pause_at("registered")
        return outputs
    version = mine[0]
    if version.gate_status == "passed" and not {CHALLENGER, CHAMPION} & set(version.aliases):
        registry.set_alias(name, CHALLENGER, version.version)
        version = registry.get_version(name, version.version)
    ctx.say(f"v{version.version} was registered by this run before it was interrupted")
    return {
        "model": name,
        "version": version.version,
        "run_id": version.run_id,
        "approval": version.approval,
        "aliases": list(version.aliases),
        "reused": True,
    }


def _pause_at(point: str) -> None:
    """The fault-rehearsal seam (see the module docstring)."""
    if os.environ.get(PAUSE_ENV) == point:
        log.warning("pausing at %s for an hour (%s is set)", point, PAUSE_ENV)
        time.sleep(3600)


RETRAINING = Pipeline(
    "retraining",
    (
        Step(
            "ingest",
            _split,
            files=lambda ctx: [Path(ctx.params["train"]), Path(ctx.params["val"])],
            still_valid=_SHARED["ingest"].still_valid,
        ),
        _SHARED["validate"],
        _SHARED["train"],
        _SHARED["evaluate"],
        Step("register", _register, cacheable=False),
    ),
)


def run_retraining(
    settings: Settings,
    train_csv: Path,
    val_csv: Path,
    endpoint: str,
    tags: dict[str, str],
    claim: str,
) -> tuple[RunRecord, dict[str, Outputs]]:
    """Run the retraining pipeline for the retrain ``claim`` (or finish the run an earlier
    attempt at it left); the run and each step's outputs."""
    store = PipelineStore(settings.workspace)
    earlier = _run_of(store, claim)
    params = {
        "train": str(train_csv.resolve()),
        "val": str(val_csv.resolve()),
        "retrained_endpoint": endpoint,
        "fail_on_violation": False,  # drifted traffic breaks the old baseline by design
        "promote": False,
        "reuse_version": False,
        "tags": tags,
        "retrain_claim": claim,
    }
    if earlier is None:
        run = pipeline.run(RETRAINING, settings, params)
    elif earlier.status == SUCCEEDED:
        run = earlier
    else:  # Executing by a process that is gone, or Failed
        run = pipeline.resume(RETRAINING, settings, earlier.run_id)
    steps = {s.step: s for s in store.steps(run.run_id)}  # the latest attempt of each
    return run, {name: step.outputs for name, step in steps.items()}


def _run_of(store: PipelineStore, claim: str) -> RunRecord | None:
    """The retraining run an earlier attempt at ``claim`` started, if any."""
    runs = store.list_runs(RECENT_RUNS)
    mine = [
        r for r in runs if r.pipeline == RETRAINING.name and r.params.get("retrain_claim") == claim
    ]
    return mine[0] if mine else None
