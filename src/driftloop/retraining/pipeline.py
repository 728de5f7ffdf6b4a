"""A retrain as a pipeline run: the retrain's own split, then the training pipeline's
validate, train, evaluate and register steps.

So a retrain has a run record, step caching (two retrains on the same rows reuse the same
baseline and MLflow runs) and lineage, like ``driftloop pipeline run``. Every retrain
registers a version, with ``promote`` off: a passing retrain becomes challenger, and only a
guarded deployment makes it champion.
"""

from __future__ import annotations

from pathlib import Path

from driftloop.config import Settings
from driftloop.flows import load_pair
from driftloop.pipelines import runner as pipeline
from driftloop.pipelines.steps import Context, Outputs, Pipeline, Step
from driftloop.pipelines.store import PipelineStore, RunRecord
from driftloop.pipelines.training import TRAINING

_SHARED = {step.name: step for step in TRAINING.steps}


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
        _SHARED["register"],
    ),
)


def run_retraining(
    settings: Settings, train_csv: Path, val_csv: Path, endpoint: str, tags: dict[str, str]
) -> tuple[RunRecord, dict[str, Outputs]]:
    """Run the retraining pipeline; the run and each step's outputs."""
    params = {
        "train": str(train_csv.resolve()),
        "val": str(val_csv.resolve()),
        "retrained_endpoint": endpoint,
        "fail_on_violation": False,  # drifted traffic breaks the old baseline by design
        "promote": False,
        "reuse_version": False,
        "tags": tags,
    }
    run = pipeline.run(RETRAINING, settings, params)
    steps = {s.step: s for s in PipelineStore(settings.workspace).steps(run.run_id)}
    return run, {name: step.outputs for name, step in steps.items()}
