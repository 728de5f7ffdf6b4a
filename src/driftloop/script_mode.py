"""SageMaker script mode: ``train_model.py`` as a training job runs it.

SageMaker starts the script with each hyperparameter as ``--name value`` and the job's
folders in ``SM_*`` variables. The script trains driftloop's candidates on the ``train``
channel, scores them on the ``validation`` channel and writes the best one to
``SM_MODEL_DIR`` as the MLflow model driftloop's container serves from ``/opt/ml/model``.
A failure is one sentence in ``/opt/ml/output/failure`` (``SM_OUTPUT_DIR``), which
DescribeTrainingJob reports as the job's FailureReason, and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import mlflow

from driftloop.config import Settings, load_settings
from driftloop.errors import DriftloopError, NotFoundError
from driftloop.flows import load_pair
from driftloop.training.trainer import best_candidate, train_candidates

CHANNELS = {"train": "SM_CHANNEL_TRAIN", "validation": "SM_CHANNEL_VALIDATION"}


def arguments(argv: list[str]) -> argparse.Namespace:
    """Hyperparameters, as the SKLearn estimator passes them."""
    parser = argparse.ArgumentParser(description="Train driftloop's candidates (script mode).")
    parser.add_argument("--candidates", default="logistic_regression,hist_gradient_boosting")
    parser.add_argument("--primary-metric", dest="primary_metric", default="roc_auc")
    parser.add_argument("--threshold", default="0.5", help='a probability, "f1" or "cost"')
    parser.add_argument("--cost-ratio", dest="cost_ratio", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--target", default=None, help="target column (else the manifest's)")
    parser.add_argument("--positive-label", dest="positive_label", default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the training job; 0 on success, 1 with the reason written on failure."""
    output = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output"))
    try:
        metrics = train(arguments(sys.argv[1:] if argv is None else argv))
    except (DriftloopError, OSError, ValueError) as exc:
        output.mkdir(parents=True, exist_ok=True)
        (output / "failure").write_text(f"{type(exc).__name__}: {exc}\n")
        print(f"training failed: {exc}", file=sys.stderr)
        return 1
    for name, value in sorted(metrics.items()):  # metric definitions read these lines
        print(f"{name}={value:.6f}")
    return 0


def train(args: argparse.Namespace) -> dict[str, float]:
    """Fit the candidates, write the best to SM_MODEL_DIR; its validation metrics."""
    model_dir = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    data_dir = Path(os.environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    settings = _settings(args, data_dir / "driftloop")
    train_csv, val_csv = (_channel_csv(name) for name in CHANNELS)
    train_set, val_set = load_pair(settings, train_csv, val_csv)
    results = train_candidates(train_set, val_set, settings, lambda m: print(m, flush=True))
    best = best_candidate(results, settings.training.primary_metric)
    _write_model(best.model_uri, model_dir)
    summary = {"best": best.name, "metrics": best.metrics, "threshold": best.threshold}
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    return dict(best.metrics)


def _settings(args: argparse.Namespace, home: Path) -> Settings:
    training: dict[str, Any] = {
        "candidates": [c.strip() for c in args.candidates.split(",") if c.strip()],
        "primary_metric": args.primary_metric,
        "seed": args.seed,
        "threshold": _threshold(args.threshold),
        "cost_ratio": args.cost_ratio,
    }
    data = {k: v for k, v in (("target", args.target),) if v is not None}
    if args.positive_label is not None:
        data["positive_label"] = args.positive_label
    return load_settings(None, home=home, training=training, data=data)


def _threshold(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _channel_csv(name: str) -> Path:
    """The channel's CSV: ``<name>.csv``, ``train.csv``/``val.csv``, or its only CSV."""
    variable = CHANNELS[name]
    folder = Path(os.environ.get(variable, f"/opt/ml/input/data/{name}"))
    if not folder.is_dir():
        raise NotFoundError(f"channel {name!r} not found: {folder} ({variable})")
    preferred = [folder / f"{name}.csv", folder / ("train.csv" if name == "train" else "val.csv")]
    for path in preferred:
        if path.is_file():
            return path
    found = sorted(folder.glob("*.csv"))
    if len(found) != 1:
        raise NotFoundError(f"channel {name!r} ({folder}) needs one CSV file, found {len(found)}")
    return found[0]


def _write_model(model_uri: str, model_dir: Path) -> None:
    """The MLflow model at ``model_uri``, copied into ``model_dir`` (MLmodel at its top)."""
    staged = Path(mlflow.artifacts.download_artifacts(model_uri))
    model_dir.mkdir(parents=True, exist_ok=True)
    for item in staged.iterdir():
        target = model_dir / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
