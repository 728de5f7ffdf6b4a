"""Fit every configured candidate as an MLflow run and pick the best on validation data."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from driftloop.config import Settings
from driftloop.data.dataset import Dataset
from driftloop.errors import TrainingError
from driftloop.training import candidates, tracking
from driftloop.training.importance import raw_column_importance
from driftloop.training.metrics import LOWER_IS_BETTER, choose_threshold, evaluate
from driftloop.training.plots import write_plots

Progress = Callable[[str], None]
MODEL_NAME_IN_RUN = "model"


@dataclass(frozen=True)
class CandidateResult:
    """One fitted candidate: its MLflow run, logged model and validation metrics."""

    name: str
    run_id: str
    model_uri: str
    metrics: dict[str, float]
    threshold: float = 0.5  # the decision threshold served with the model


def train_candidates(
    train: Dataset, val: Dataset, settings: Settings, progress: Progress | None = None
) -> list[CandidateResult]:
    """Fit each configured candidate on ``train``, score on ``val``, log all to MLflow."""
    say = progress or (lambda _message: None)
    if train.spec != val.spec:
        raise TrainingError("training and validation data have different schemas")
    experiment = tracking.experiment_id(
        settings.workspace, settings.training.experiment, settings.training.artifact_root
    )
    results = []
    for name in settings.training.candidates:
        say(f"fitting {name}")
        results.append(_run_candidate(name, train, val, settings, experiment, say))
    return results


def best_candidate(results: list[CandidateResult], metric: str) -> CandidateResult:
    """The result with the best value of ``metric`` (first one wins a tie)."""
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    return min(results, key=lambda result: sign * result.metrics[metric])


def _run_candidate(
    name: str, train: Dataset, val: Dataset, settings: Settings, experiment: str, say: Progress
) -> CandidateResult:
    cfg = settings.training
    pipeline = candidates.build(name, train.spec, cfg.seed)
    with mlflow.start_run(experiment_id=experiment, run_name=name) as run:
        mlflow.set_tags(
            {"driftloop.candidate": name, "driftloop.train_snapshot": train.snapshot.digest}
        )
        _log_inputs(train, val)
        _log_params(name, pipeline, train, val, settings)
        try:
            pipeline.fit(train.features, train.target)
        except ValueError as exc:
            raise TrainingError(f"{name} could not be fitted: {exc}") from exc
        proba = pipeline.predict_proba(val.features)[:, 1]
        threshold = choose_threshold(val.target, proba, cfg.threshold, cfg.cost_ratio)
        metrics = evaluate(val.target, proba, threshold=threshold)
        mlflow.log_metrics(metrics)
        mlflow.log_param("decision_threshold", threshold)
        say(f"{name}: ROC AUC {metrics['roc_auc']:.4f}, drawing plots")
        _log_plots(pipeline, val, proba, settings, name, threshold)
        info = _log_model(name, pipeline, val, threshold)
    return CandidateResult(name, run.info.run_id, info, metrics, threshold)


def _log_inputs(train: Dataset, val: Dataset) -> None:
    for dataset, context in ((train, "training"), (val, "validation")):
        with warnings.catch_warnings():
            # MLflow registers the local-file source under two names and warns about it.
            warnings.filterwarnings("ignore", message=".*interpreted in multiple ways.*")
            # mlflow.data.from_pandas, imported from where mypy can see it (mlflow attaches it
            # to mlflow.data at run time).
            logged = from_pandas(
                dataset.frame,
                source=dataset.snapshot.uri,
                targets=dataset.spec.target,
                name=dataset.snapshot.digest,
            )
        mlflow.log_input(logged, context=context)


def _log_params(
    name: str, pipeline: Pipeline, train: Dataset, val: Dataset, settings: Settings
) -> None:
    estimator = pipeline.named_steps["model"]
    params = {
        f"model.{key}": value
        for key, value in estimator.get_params().items()
        if isinstance(value, (int, float, str, bool)) or value is None
    }
    params.update(
        {
            "candidate": name,
            "seed": settings.training.seed,
            "threshold_policy": settings.training.threshold,
            "train_rows": len(train.frame),
            "val_rows": len(val.frame),
            "numeric_features": len(train.spec.numeric_features),
            "categorical_features": len(train.spec.categorical_features),
        }
    )
    mlflow.log_params(params)


def _log_plots(
    pipeline: Pipeline,
    val: Dataset,
    proba: np.ndarray,
    settings: Settings,
    name: str,
    threshold: float,
) -> None:
    importance = raw_column_importance(
        pipeline, val.features, val.target, seed=settings.training.seed
    )
    with tempfile.TemporaryDirectory() as tmp:
        write_plots(
            Path(tmp),
            val.target,
            proba,
            threshold=threshold,
            importance=importance,
            title=name,
        )
        mlflow.log_artifacts(tmp, artifact_path="plots")
    mlflow.log_dict(importance, "feature_importance.json")


def _log_model(name: str, pipeline: Pipeline, val: Dataset, threshold: float) -> str:
    example = val.features.head(5)
    signature = infer_signature(example, pipeline.predict_proba(example))
    info = mlflow.sklearn.log_model(
        pipeline,
        name=MODEL_NAME_IN_RUN,
        signature=signature,
        input_example=example,
        serialization_format="skops",
        skops_trusted_types=candidates.TRUSTED_TYPES[name],
        pyfunc_predict_fn="predict_proba",
        # Listing requirements spares MLflow a subprocess that re-imports the model to infer them.
        pip_requirements=candidates.requirements(name),
        metadata={
            "driftloop_spec": val.spec.to_dict(),
            "driftloop_candidate": name,
            "driftloop_threshold": threshold,
        },
    )
    return str(info.model_uri)
