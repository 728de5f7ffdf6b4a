"""`train_model.py` runs as SageMaker script mode runs it; the container serves its model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd
import pytest

from driftloop.data.generator import generate
from tests.servers import SERVE, post, start_server

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "train_model.py"


def _opt_ml(root: Path) -> dict[str, str]:
    """A faked ``/opt/ml`` layout and the SM_* variables SageMaker sets."""
    for channel in ("train", "validation"):
        (root / "input" / "data" / channel).mkdir(parents=True)
    return {
        "SM_MODEL_DIR": str(root / "model"),
        "SM_CHANNEL_TRAIN": str(root / "input" / "data" / "train"),
        "SM_CHANNEL_VALIDATION": str(root / "input" / "data" / "validation"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_OUTPUT_DIR": str(root / "output"),
    }


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_training_job_writes_a_model_the_container_serves(tmp_path: Path) -> None:
    env = _opt_ml(tmp_path / "ml")
    rows = generate(1500, seed=5)
    rows.iloc[:1000].to_csv(Path(env["SM_CHANNEL_TRAIN"]) / "train.csv", index=False)
    rows.iloc[1000:].to_csv(Path(env["SM_CHANNEL_VALIDATION"]) / "part-0.csv", index=False)
    done = _run(env, "--candidates", "logistic_regression", "--seed", "3", "--threshold", "f1")
    assert done.returncode == 0, done.stderr
    assert "roc_auc=" in done.stdout
    assert (Path(env["SM_MODEL_DIR"]) / "MLmodel").is_file()
    summary = orjson.loads((Path(env["SM_OUTPUT_DATA_DIR"]) / "metrics.json").read_bytes())
    assert summary["best"] == "logistic_regression" and summary["metrics"]["roc_auc"] > 0.6

    serve_env = {"SM_MODEL_DIR": env["SM_MODEL_DIR"], "DRIFTLOOP_HOME": str(tmp_path / "e")}
    running = start_server(
        ["--host", "127.0.0.1", "--workers", "1"], serve_env, tmp_path / "l", [SERVE]
    )
    try:
        running.wait_ready()
        body = rows.iloc[1000:1003].drop(columns=["Churn"]).to_csv(index=False).encode()
        status, _, answer = post(f"{running.url}/invocations", body, {"content-type": "text/csv"})
        assert status == 200, answer
        assert len(orjson.loads(answer)["predictions"]) == 3
    finally:
        assert running.stop() in (0, -signal.SIGTERM)


def test_a_failed_job_writes_the_reason_where_sagemaker_reads_it(tmp_path: Path) -> None:
    env = _opt_ml(tmp_path / "ml")
    pd.DataFrame({"a": [1, 2]}).to_csv(Path(env["SM_CHANNEL_TRAIN"]) / "train.csv", index=False)
    done = _run(env, "--candidates", "logistic_regression")
    assert done.returncode == 1
    failure = (tmp_path / "ml" / "output" / "failure").read_text()
    assert "validation" in failure and "needs one CSV file, found 0" in failure
    assert not (tmp_path / "ml" / "model").exists()
