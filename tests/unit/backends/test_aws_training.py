"""SageMaker training jobs against moto: the request has the SKLearn estimator's shape, waiting
follows the job's status, and missing settings or buckets are one sentence.

moto 5.2.5 runs nothing: a job is Completed the moment it is created, with no artifacts. Its
server runs in this process, so these tests set a job's state on moto's own object (the
``jobs`` fixture) where a test needs a job that is still running or has failed.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend

from driftloop.backends.catalog import Backends
from driftloop.config import Settings, load_settings
from driftloop.errors import CloudError, ConfigError, TrainingError
from driftloop.training.job_runs import hyperparameters
from driftloop.training.jobs import JobRequest, TrainingJobs
from tests.aws import BUCKET, REGION, settings_for

ROLE = "arn:aws:iam::123456789012:role/driftloop-sagemaker"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/driftloop:1"


def with_training(settings: Settings, **aws: Any) -> Settings:
    """``settings`` naming a role and training image (``aws`` overrides them)."""
    update = {"role_arn": ROLE, "training_image": IMAGE, **aws}
    return settings.model_copy(update={"aws": settings.aws.model_copy(update=update)})


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return with_training(settings_for("aws", tmp_path / ".driftloop", request))


@pytest.fixture
def jobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeTrainingJob]]:
    """moto's job objects, in the order they were created."""
    created: list[FakeTrainingJob] = []
    original = SageMakerModelBackend.create_training_job

    def create(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> FakeTrainingJob:
        created.append(original(self, *args, **kwargs))
        return created[-1]

    monkeypatch.setattr(SageMakerModelBackend, "create_training_job", create)
    yield created


@pytest.fixture
def job_request(tmp_path: Path) -> JobRequest:
    folder = tmp_path / "prepared"
    folder.mkdir()
    for name in ("train.csv", "val.csv"):
        (folder / name).write_text("a,Churn\n1,Yes\n2,No\n")
    (folder / "manifest.json").write_text("{}")
    return JobRequest(
        folder / "train.csv",
        folder / "val.csv",
        hyperparameters(load_settings(home=tmp_path / "x")),
        folder / "manifest.json",
    )


def _client(settings: Settings, service: str) -> Any:
    return boto3.client(
        service, region_name=REGION, endpoint_url=settings.aws.endpoint_urls[service]
    )


def test_a_job_is_submitted_as_the_sklearn_estimator_submits_it(
    settings: Settings, job_request: JobRequest
) -> None:
    name = Backends.from_settings(settings).training.submit(job_request)
    assert name.startswith("churn-model-")
    job = _client(settings, "sagemaker").describe_training_job(TrainingJobName=name)
    root = f"s3://{BUCKET}/team/churn/training/{name}"
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert job["RoleArn"] == ROLE
    channels = {c["ChannelName"]: c for c in job["InputDataConfig"]}
    assert set(channels) == {"train", "validation"}
    for channel, found in channels.items():
        source = found["DataSource"]["S3DataSource"]
        assert source["S3Uri"] == f"{root}/{channel}/"
        assert source["S3DataType"] == "S3Prefix"
        assert source["S3DataDistributionType"] == "FullyReplicated"
        assert found["ContentType"] == "text/csv"
    assert job["OutputDataConfig"]["S3OutputPath"] == f"{root}/output"
    assert job["ResourceConfig"] == {
        "InstanceType": "ml.m5.large",
        "InstanceCount": 1,
        "VolumeSizeInGB": 30,
    }
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 86400
    params = job["HyperParameters"]
    assert all(isinstance(value, str) for value in params.values())
    assert json.loads(params["sagemaker_program"]) == "train_model.py"
    assert json.loads(params["sagemaker_submit_directory"]) == f"{root}/source/sourcedir.tar.gz"
    assert json.loads(params["sagemaker_region"]) == REGION
    assert json.loads(params["sagemaker_container_log_level"]) == 20
    assert json.loads(params["candidates"]) == "logistic_regression,hist_gradient_boosting"
    assert json.loads(params["seed"]) == 42

    s3 = _client(settings, "s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"team/churn/training/{name}/")
    keys = {item["Key"].split(f"{name}/", 1)[1] for item in listed["Contents"]}
    assert keys == {
        "train/train.csv",
        "train/manifest.json",
        "validation/val.csv",
        "source/sourcedir.tar.gz",
    }
    bundle = s3.get_object(Bucket=BUCKET, Key=f"team/churn/training/{name}/source/sourcedir.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(bundle["Body"].read()), mode="r:gz") as tar:
        assert tar.getnames() == ["train_model.py"]
        script = tar.extractfile("train_model.py")
        assert script is not None and b"from driftloop.script_mode import main" in script.read()


@pytest.mark.parametrize("key", ["role_arn", "training_image"])
def test_a_missing_role_or_image_is_one_sentence_before_any_upload(
    settings: Settings, job_request: JobRequest, key: str
) -> None:
    store = Backends.from_settings(with_training(settings, **{key: None})).training
    with pytest.raises(ConfigError, match=rf"^aws\.{key} is not set; SageMaker training jobs"):
        store.submit(job_request)
    assert "Contents" not in _client(settings, "s3").list_objects_v2(Bucket=BUCKET)


def test_waiting_reports_each_change_and_a_failure_names_its_reason(
    settings: Settings, job_request: JobRequest, jobs: list[FakeTrainingJob]
) -> None:
    store = Backends.from_settings(settings).training
    name = store.submit(job_request)
    steps = iter(
        [
            ("InProgress", "Training", None),
            ("InProgress", "Training", None),
            ("Failed", "Failed", "AlgorithmError: ValueError: no positive rows"),
        ]
    )

    def advance(_seconds: float) -> None:
        status, secondary, reason = next(steps)
        jobs[0].training_job_status, jobs[0].secondary_status = status, secondary
        if reason:
            jobs[0].failure_reason = reason

    jobs[0].training_job_status, jobs[0].secondary_status = "InProgress", "Starting"
    lines: list[str] = []
    with pytest.raises(TrainingError) as failed:
        store.wait(name, lines.append, poll=0, sleep=advance)
    assert str(failed.value) == (
        f"training job {name} failed: AlgorithmError: ValueError: no positive rows"
    )
    assert failed.value.exit_code == 7
    assert [line.split(": ", 1)[1].split(":")[0] for line in lines] == [
        "InProgress (Starting)",
        "InProgress (Training)",
        "Failed",
    ]


def test_a_completed_job_without_its_model_is_a_training_error(
    settings: Settings, job_request: JobRequest, tmp_path: Path
) -> None:
    store: TrainingJobs = Backends.from_settings(settings).training
    name = store.submit(job_request)
    assert store.wait(name, poll=0).status == "Completed"  # moto: at once
    with pytest.raises(TrainingError, match=rf"{name} completed without s3://.*/model\.tar\.gz"):
        store.fetch(name, tmp_path / "fetched")


def test_uploading_to_a_missing_bucket_is_a_cloud_error(settings: Settings, tmp_path: Path) -> None:
    missing = settings.model_copy(
        update={"aws": settings.aws.model_copy(update={"bucket": "no-such-bucket"})}
    )
    (tmp_path / "a.csv").write_text("a\n1\n")
    sentence = r"^s3://no-such-bucket/.*: the bucket does not exist; create it or name another"
    with pytest.raises(CloudError, match=sentence) as refused:
        Backends.from_settings(missing).training.upload([tmp_path / "a.csv"], "prepared")
    assert refused.value.exit_code == 13


def test_the_local_kind_runs_no_training_jobs(tmp_path: Path) -> None:
    stores = Backends.from_settings(load_settings(home=tmp_path / "ws"))
    with pytest.raises(ConfigError, match="the local backend has no training store"):
        _ = stores.training
