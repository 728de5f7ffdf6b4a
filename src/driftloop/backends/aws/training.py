"""Training jobs on SageMaker, submitted as the SDK's SKLearn estimator submits them.

A job's files live under ``s3://bucket/prefix/training/<job>/``: the ``train`` and
``validation`` channels (the CSVs; the manifest beside the training CSV), ``source/
sourcedir.tar.gz`` (the entry point) and ``output/``, where SageMaker writes
``<job>/output/model.tar.gz`` (``/opt/ml/model``) and ``output.tar.gz`` (``/opt/ml/output/
data``, where the entry point writes ``metrics.json``).

The job logged its model in an MLflow store of its own, which stays in the job: the fetched
model's ``MLmodel`` drops the ids of that store's logged model and run, so that the model reads
back from this workspace's store once it is logged here.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow

from driftloop.backends.aws._clients import call, client
from driftloop.backends.aws._s3 import Bucket
from driftloop.backends.aws._training_request import (
    CHANNELS,
    create_request,
    job_name,
    source_bundle,
)
from driftloop.errors import ConfigError, NotFoundError, TrainingError
from driftloop.training.jobs import COMPLETED, JobModel, JobRequest, JobStatus, TrainingJobs

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends
    from driftloop.config import Settings

_FOLDER = "training"
_REQUIRED = ("role_arn", "training_image")


class SageMakerTrainingJobs(TrainingJobs):
    """:class:`TrainingJobs` on SageMaker CreateTrainingJob and DescribeTrainingJob."""

    def __init__(self, settings: Settings, _stores: Backends | None = None) -> None:
        self._aws = settings.aws
        self._base = settings.registry.model_name
        self._bucket = Bucket(settings)
        self._sagemaker = client(settings, "sagemaker")

    def require(self) -> None:
        for key in _REQUIRED:
            if not getattr(self._aws, key):
                raise ConfigError(f"aws.{key} is not set; SageMaker training jobs need it")

    def upload(self, files: Sequence[Path], where: str) -> list[str]:
        return [self._put(f"{where}/{path.name}", path.read_bytes()) for path in files]

    def submit(self, request: JobRequest) -> str:
        self.require()
        name = job_name(self._base)
        root = f"{_FOLDER}/{name}"
        train = [request.train_csv, *([request.manifest] if request.manifest else [])]
        self.upload(train, f"{root}/train")
        self.upload([request.val_csv], f"{root}/validation")
        locations = {
            **{channel: self._bucket.uri(f"{root}/{channel}/") for channel in CHANNELS},
            "source": self._put(f"{root}/source/sourcedir.tar.gz", source_bundle()),
            "output": self._bucket.uri(f"{root}/output"),
        }
        region = str(self._sagemaker.meta.region_name)
        arguments = create_request(name, self._aws, region, locations, request.hyperparameters)
        call("sagemaker", self._sagemaker.create_training_job, name, **arguments)
        return name

    def describe(self, name: str) -> JobStatus:
        return _status(self._describe(name))

    def fetch(self, name: str, into: Path) -> JobModel:
        answer = self._describe(name)
        status = _status(answer)
        if status.status != COMPLETED:
            raise TrainingError(f"training job {name} is {status.status}, not {COMPLETED}")
        model_uri = str(answer.get("ModelArtifacts", {}).get("S3ModelArtifacts", ""))
        output_uri = model_uri.rsplit("/", 1)[0] + "/output.tar.gz"
        folder, data = into / "model", into / "output"
        _unpack(name, model_uri, self._download(name, model_uri), folder)
        _unpack(name, output_uri, self._download(name, output_uri), data)
        if not (folder / "MLmodel").is_file():
            raise TrainingError(f"training job {name}: {model_uri} has no MLmodel at its top")
        if not (data / "metrics.json").is_file():
            raise TrainingError(f"training job {name}: {output_uri} has no metrics.json")
        _drop_job_ids(name, model_uri, folder)
        return JobModel(folder, json.loads((data / "metrics.json").read_text()))

    def _describe(self, name: str) -> dict[str, Any]:
        answer = call(
            "sagemaker", self._sagemaker.describe_training_job, name, TrainingJobName=name
        )
        return dict(answer)

    def _put(self, relative: str, body: bytes) -> str:
        """Put ``body`` at ``relative``; its URI."""
        self._bucket.put(relative, body)
        return self._bucket.uri(relative)

    def _download(self, job: str, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not key:
            raise TrainingError(f"training job {job} names no model artifacts ({uri!r})")
        try:
            answer = call("s3", self._bucket.s3.get_object, uri, Bucket=bucket, Key=key)
        except NotFoundError:
            raise TrainingError(f"training job {job} completed without {uri}") from None
        return bytes(answer["Body"].read())


def _status(answer: dict[str, Any]) -> JobStatus:
    transitions = answer.get("SecondaryStatusTransitions") or [{}]
    return JobStatus(
        name=str(answer["TrainingJobName"]),
        status=str(answer["TrainingJobStatus"]),
        secondary=str(answer.get("SecondaryStatus", "")),
        message=str(transitions[-1].get("StatusMessage", "")),
        failure_reason=answer.get("FailureReason"),
    )


def _drop_job_ids(job: str, uri: str, folder: Path) -> None:
    """Forget the logged model, run and artifact location ``MLmodel`` names in the job's own
    MLflow store: MLflow would look the logged model up in this store and not find it."""
    try:
        model = mlflow.models.Model.load(str(folder))
    except Exception as exc:  # MLflow raises whatever its YAML or schema reading raises
        raise TrainingError(
            f"training job {job}: {uri} has an unreadable MLmodel ({exc})"
        ) from None
    model.model_id = model.run_id = model.artifact_path = None
    model.save(str(folder / "MLmodel"))


def _unpack(job: str, uri: str, archive: bytes, folder: Path) -> None:
    """Extract the tar.gz at ``uri`` into ``folder``, refusing links and paths that leave it."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(folder, filter="data")
    except tarfile.TarError as exc:
        raise TrainingError(f"training job {job}: {uri} cannot be unpacked ({exc})") from None
