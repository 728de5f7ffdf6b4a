"""MLflow's artifact root on the aws bucket (``training.artifact_root``): runs and models are
written to S3 (moto's server), tracking stays in the workspace, and the registered model loads
back from S3."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from driftloop.backends.catalog import Backends
from driftloop.config import load_settings
from driftloop.data.generator import generate
from driftloop.errors import ConfigError
from tests.aws import BUCKET, REGION
from tests.workspaces import churn_endpoint

pytestmark = pytest.mark.slow
ROOT = f"s3://{BUCKET}/team/churn/mlflow"


def test_runs_and_models_go_to_the_bucket_and_load_back(
    tmp_path: Path, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)
    s3.create_bucket(Bucket=BUCKET)
    base = load_settings(home=tmp_path / ".driftloop", training={"experiment": "on-s3"})
    settings = base.model_copy(
        update={"training": base.training.model_copy(update={"artifact_root": ROOT})}
    )
    churn_endpoint(settings, tmp_path, rows=2000)

    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="team/churn/mlflow/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert any(key.endswith("/MLmodel") for key in keys), keys
    assert not list((tmp_path / ".driftloop" / "mlartifacts").rglob("MLmodel"))
    registry = Backends.from_settings(settings).registry
    version = registry.get_version("churn-model", 1)
    model = registry.load_model("churn-model", version.version)
    frame = generate(5, seed=3).drop(columns=["customerID", "Churn"])
    probabilities = model.predict_proba(frame)[:, 1]
    assert len(probabilities) == 5 and ((probabilities >= 0) & (probabilities <= 1)).all()


def test_an_artifact_root_that_is_not_a_uri_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="artifact_root"):
        load_settings(home=tmp_path, training={"artifact_root": "bucket/prefix"})
