"""A training job's side on this machine: the hyperparameters it gets from the settings, and
its model logged as an MLflow run, so it registers and gates like a local candidate."""

from __future__ import annotations

from typing import Any

import mlflow

from driftloop.config import Settings
from driftloop.data.dataset import Dataset
from driftloop.errors import TrainingError
from driftloop.training import tracking
from driftloop.training.jobs import JobModel
from driftloop.training.trainer import MODEL_NAME_IN_RUN, CandidateResult

JOB_TAG = "driftloop.training_job"
"""MLflow run tag: the name of the job that trained the run's model."""


def hyperparameters(settings: Settings) -> dict[str, Any]:
    """The script-mode arguments (``train_model.py --name value``) of ``settings``."""
    training, data = settings.training, settings.data
    return {
        "candidates": ",".join(training.candidates),
        "primary-metric": training.primary_metric,
        "threshold": training.threshold,
        "cost-ratio": training.cost_ratio,
        "seed": training.seed,
        "target": data.target,
        "positive-label": data.positive_label,
    }


def track_job_model(
    settings: Settings, job: str, model: JobModel, train: Dataset, val: Dataset
) -> CandidateResult:
    """Log the job's model folder and validation metrics as one MLflow run (in the training
    experiment, artifact ``model``); the candidate it stands for."""
    try:
        name = str(model.summary["best"])
        metrics = {str(k): float(v) for k, v in model.summary["metrics"].items()}
        threshold = float(model.summary["threshold"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TrainingError(f"training job {job}: metrics.json is malformed ({exc})") from None
    experiment = tracking.experiment_id(
        settings.workspace, settings.training.experiment, settings.training.artifact_root
    )
    with mlflow.start_run(experiment_id=experiment, run_name=f"{name} ({job})") as run:
        mlflow.set_tags(
            {
                "driftloop.candidate": name,
                "driftloop.train_snapshot": train.snapshot.digest,
                "driftloop.val_snapshot": val.snapshot.digest,
                JOB_TAG: job,
            }
        )
        mlflow.log_params({"candidate": name, "decision_threshold": threshold, "job": job})
        mlflow.log_metrics(metrics)
        mlflow.log_artifacts(str(model.folder), artifact_path=MODEL_NAME_IN_RUN)
        uri = mlflow.get_artifact_uri(MODEL_NAME_IN_RUN)
    return CandidateResult(name, run.info.run_id, uri, metrics, threshold)
