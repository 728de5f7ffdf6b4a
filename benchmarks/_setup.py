"""The benchmark's inputs: a workspace with one registered boosted-trees model, two endpoint
configs (capture off and at 100 %) and the request bodies every server receives."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path
from typing import Any

from _report import CAPTURE, DRIFTLOOP, FLOOR, FLOOR_PROTOCOL, MLFLOW
from _servers import ServerSpec

MODEL_NAME = "churn-model"
BOOSTED = ("hist_gradient_boosting", "lightgbm")
TRAIN_CANDIDATES = '["hist_gradient_boosting"]'
ENDPOINTS = {"bench": 0, "bench-capture": 100}  # endpoint name -> capture sampling percent
# Types follow the model signature: strings for categoricals (SeniorCitizen included), doubles for
# numbers. `mlflow models serve` scores an integer SeniorCitizen as an unseen category.
_NUMERIC = ("tenure", "MonthlyCharges", "TotalCharges")
_NOT_FEATURES = ("customerID", "Churn")


def tracking_uri(workspace: Path) -> str:
    return f"sqlite:///{(workspace / 'mlflow.db').resolve()}"


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def _record(row: dict[str, str]) -> dict[str, Any]:
    return {
        key: _number(value) if key in _NUMERIC else value
        for key, value in row.items()
        if key not in _NOT_FEATURES
    }


def payloads(csv_path: Path, batch_rows: int = 100) -> dict[str, bytes]:
    """``{"dataframe_records": [...]}`` bodies: the first row, and the first ``batch_rows`` rows
    with the last one swapped for the first row that has no TotalCharges (a JSON null)."""
    with csv_path.open(newline="") as handle:
        rows = [_record(row) for row in csv.DictReader(handle)]
    missing = next(r for r in rows if r["TotalCharges"] is None)
    batch = [*rows[: batch_rows - 1], missing]
    return {
        "1 row": json.dumps({"dataframe_records": rows[:1]}).encode(),
        f"{batch_rows} rows": json.dumps({"dataframe_records": batch}).encode(),
    }


def _boosted_version(workspace: Path) -> int | None:
    from mlflow import MlflowClient

    if not (workspace / "mlflow.db").exists():
        return None
    client = MlflowClient(tracking_uri(workspace), registry_uri=tracking_uri(workspace))
    versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    boosted = [int(v.version) for v in versions if v.tags.get("candidate") in BOOSTED]
    return max(boosted, default=None)


def _driftloop(bin_dir: Path, args: list[str], cwd: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(bin_dir / "driftloop"), *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"driftloop {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def prepare(workspace: Path, csv_path: Path, bin_dir: Path, env: dict[str, str]) -> int:
    """Reuse the newest boosted-trees version of the model, or train one; set up the endpoints.

    Returns the model version every server loads.
    """
    version = _boosted_version(workspace)
    if version is None:
        _driftloop(bin_dir, ["preprocess", "--input-csv", str(csv_path.resolve())], workspace, env)
        train_env = {**env, "DRIFTLOOP_TRAINING__CANDIDATES": TRAIN_CANDIDATES}
        _driftloop(bin_dir, ["train"], workspace, train_env)
        version = _boosted_version(workspace)
        if version is None:
            raise RuntimeError(f"training registered no boosted-trees version of {MODEL_NAME}")
    for name, percent in ENDPOINTS.items():
        args = ["endpoints", "create", name, "--variant", f"AllTraffic={version}"]
        _driftloop(bin_dir, [*args, "--capture-percent", str(percent)], workspace, env)
    return version


def server_specs(
    version: int, bin_dir: Path, repo: Path, workers: int, predictors: dict[str, dict[str, str]]
) -> list[ServerSpec]:
    """The servers, in the order each round starts them: mlflow must come before driftloop
    because its answers are the reference driftloop's are checked against. ``predictors``
    holds, per extra row's name, the environment that swaps driftloop's fast path."""
    serve = ["--host", "127.0.0.1", "--port", "{port}", "--workers", str(workers)]
    floor_app = ["-m", "uvicorn", "benchmarks.floor_app:app", "--app-dir", str(repo)]
    floor = [str(bin_dir / "python"), *floor_app, *serve, "--log-level", "warning"]
    model = f"models:/{MODEL_NAME}/{version}"
    mlflow = [str(bin_dir / "mlflow"), "models", "serve", "-m", model, "--env-manager", "local"]
    mlflow += ["-h", "127.0.0.1", "-p", "{port}", "-w", str(workers)]
    driftloop = [str(bin_dir / "driftloop"), "serve"]
    protocol = ["--http", "driftloop.serving.protocol:HttpProtocol"]
    return [
        ServerSpec(FLOOR, [*floor, "--no-access-log"]),
        ServerSpec(FLOOR_PROTOCOL, [*floor, *protocol, "--no-access-log"]),
        ServerSpec(MLFLOW, mlflow),
        ServerSpec(DRIFTLOOP, [*driftloop, "bench", *serve]),
        ServerSpec(CAPTURE, [*driftloop, "bench-capture", *serve]),
        *(ServerSpec(name, [*driftloop, "bench", *serve], env) for name, env in predictors.items()),
    ]
