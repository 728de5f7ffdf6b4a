"""`driftloop train --on sagemaker` and `preprocess --upload` end to end against moto's server.

moto 5.2.5 records CreateTrainingJob but runs nothing (the job is Completed at once, with no
artifacts). Its server runs in this process, so ``sagemaker`` stands in for the job: when moto
creates a job it is set InProgress and a thread does SageMaker's work from the job's own
request (the channels and the source bundle from S3, the hyperparameters decoded as the
training toolkit does, ``python train_model.py --name value`` in a faked /opt/ml), puts
``model.tar.gz`` and ``output.tar.gz`` where ModelArtifacts points and sets the job Completed.
A failing job is set Failed with a FailureReason on moto's job object, without running.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend

from driftloop.backends.catalog import Backends
from driftloop.config import Settings, load_settings
from driftloop.data.generator import generate
from tests.aws import BUCKET, REGION, settings_for
from tests.integration.test_train_model_script import _opt_ml
from tests.unit.backends.test_aws_training import IMAGE, ROLE

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
REASON = "AlgorithmError: ValueError: the validation channel is empty"


def _config(path: Path, settings: Settings, kind: str, **aws: str) -> Path:
    """A driftloop.toml for the CLI: ``settings``' workspace and aws section on ``kind``."""
    urls = ", ".join(f'"{k}" = "{v}"' for k, v in settings.aws.endpoint_urls.items())
    table = {"region": REGION, "prefix": settings.aws.prefix, **aws}
    lines = [
        f"home = {json.dumps(str(settings.home))}",
        f'[backend]\nkind = "{kind}"',
        '[training]\ncandidates = ["logistic_regression"]',
        "[gate]\nmin_metrics = {roc_auc = 0.6}",
        "[aws]\nmax_attempts = 1",
        *(f"{k} = {json.dumps(v)}" for k, v in table.items()),
        f"endpoint_urls = {{{urls}}}",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def aws(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return settings_for("aws", tmp_path / ".driftloop", request)


@pytest.fixture
def config(tmp_path: Path, aws: Settings) -> Path:
    """The aws kind with a role and a training image."""
    training = {"bucket": BUCKET, "role_arn": ROLE, "training_image": IMAGE}
    return _config(tmp_path / "driftloop.toml", aws, "aws", **training)


@pytest.fixture
def raw_csv(tmp_path: Path) -> Path:
    path = tmp_path / "telco.csv"
    generate(1500, seed=5).to_csv(path, index=False)
    return path


def _s3(url: str) -> Any:
    return boto3.client("s3", region_name=REGION, endpoint_url=url)


def _download(s3: Any, uri: str, folder: Path) -> None:
    """Every object under the s3:// prefix ``uri`` into ``folder`` (as File mode does)."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        name = item["Key"][len(prefix) :] or Path(prefix).name  # a prefix that is one object
        s3.download_file(bucket, item["Key"], str(folder / name))


def _put_tar(s3: Any, uri: str, folder: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for child in sorted(folder.iterdir()):
            tar.add(child, arcname=child.name)
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())


def run_job(job: FakeTrainingJob, url: str, root: Path) -> None:
    """What SageMaker does for ``job``; a test error fails the job rather than hanging it."""
    try:
        _work(job, url, root)
    except Exception as exc:
        job.failure_reason = f"the test's substitute failed: {exc!r}"
        job.training_job_status = job.secondary_status = "Failed"


def _work(job: FakeTrainingJob, url: str, root: Path) -> None:
    """What SageMaker does for ``job``, from its request alone."""
    s3, env = _s3(url), _opt_ml(root)
    for channel in job.input_data_config:
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        _download(s3, uri, root / "input" / "data" / channel["ChannelName"])
    params = {k: json.loads(v) for k, v in job.hyper_parameters.items()}
    code = root / "code"
    code.mkdir()
    _download(s3, params["sagemaker_submit_directory"], code)
    with tarfile.open(code / "sourcedir.tar.gz") as bundle:
        bundle.extractall(code, filter="data")
    args = [f"--{k}={v}" for k, v in params.items() if not k.startswith("sagemaker_")]
    done = subprocess.run(
        [sys.executable, str(code / params["sagemaker_program"]), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        job.failure_reason = (root / "output" / "failure").read_text().strip() or done.stderr
        job.training_job_status = job.secondary_status = "Failed"
        return
    model = job.model_artifacts["S3ModelArtifacts"]
    _put_tar(s3, model, root / "model")
    _put_tar(s3, model.rsplit("/", 1)[0] + "/output.tar.gz", root / "output" / "data")
    job.training_job_status = job.secondary_status = "Completed"


@pytest.fixture
def sagemaker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto_url: str
) -> Iterator[Callable[[str | None], None]]:
    """Makes moto's next jobs run as SageMaker would (``None``) or fail with a reason."""
    failure: list[str | None] = [None]
    threads: list[threading.Thread] = []
    original = SageMakerModelBackend.create_training_job

    def create(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> FakeTrainingJob:
        job = original(self, *args, **kwargs)
        if failure[0] is not None:
            job.training_job_status = job.secondary_status = "Failed"
            job.failure_reason = failure[0]
            return job
        job.training_job_status, job.secondary_status = "InProgress", "Training"
        work = threading.Thread(target=run_job, args=(job, moto_url, tmp_path / "opt-ml"))
        threads.append(work)
        work.start()
        return job

    monkeypatch.setattr(SageMakerModelBackend, "create_training_job", create)

    def fail_with(reason: str | None) -> None:
        failure[0] = reason

    yield fail_with
    for work in threads:
        work.join(timeout=600)


def test_train_on_sagemaker_registers_the_jobs_model_gated_and_servable(
    cli: Any, config: Path, raw_csv: Path, sagemaker: Callable[[str | None], None]
) -> None:
    assert cli("--config", str(config), "preprocess", "--input-csv", str(raw_csv)).code == 0
    done = cli("--config", str(config), "train", "--on", "sagemaker", "--poll", "0.2s")
    assert done.code == 0, done.err
    assert "registered churn-model v1 (logistic_regression); gate passed" in done.out
    assert "InProgress (Training)" in done.err and "Completed" in done.err

    settings = load_settings(config)
    registry = Backends.from_settings(settings).registry
    version = registry.get_version("churn-model", 1)
    assert version.approval == "Approved" and "champion" in version.aliases
    job = version.tags["driftloop.training_job"]
    assert job.startswith("churn-model-")
    val = generate(1500, seed=5).drop(columns=["customerID", "Churn"]).head(5)
    proba = registry.load_model("churn-model", 1).predict_proba(val)
    assert proba.shape == (5, 2)


def test_a_failed_job_stops_the_command_with_its_reason(
    cli: Any, config: Path, raw_csv: Path, sagemaker: Callable[[str | None], None]
) -> None:
    sagemaker(REASON)
    assert cli("--config", str(config), "preprocess", "--input-csv", str(raw_csv)).code == 0
    done = cli("--config", str(config), "train", "--on", "sagemaker", "--poll", "0.2s")
    assert done.code == 7
    assert f"failed: {REASON}" in " ".join(done.err.split())
    assert not Backends.from_settings(load_settings(config)).registry.list_versions("churn-model")


def test_a_missing_training_image_is_one_sentence(
    cli: Any, tmp_path: Path, aws: Settings, raw_csv: Path
) -> None:
    config = _config(tmp_path / "c.toml", aws, "aws", bucket=BUCKET, role_arn=ROLE)
    done = cli("--config", str(config), "train", "--on", "sagemaker")
    assert done.code == 2
    assert "aws.training_image is not set; SageMaker training jobs need it" in done.err


def test_the_local_kind_runs_no_training_jobs(cli: Any, tmp_path: Path, aws: Settings) -> None:
    done = cli(
        "--config", str(_config(tmp_path / "c.toml", aws, "local")), "train", "--on", "sagemaker"
    )
    assert done.code == 2
    assert 'train --on sagemaker needs backend.kind "aws"' in done.err


def test_the_guides_preprocess_command_uploads_the_prepared_files(
    tmp_path: Path, aws: Settings, raw_csv: Path
) -> None:
    config = _config(tmp_path / "local.toml", aws, "local")  # no bucket, local backend
    out = tmp_path / "prepared"
    guide = ["--input-csv", str(raw_csv), "--output-dir", str(out), "--upload"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "preprocess_telco.py"), *guide, "--s3-bucket", BUCKET],
        env={**os.environ, "DRIFTLOOP_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    prefix = f"{aws.aws.prefix}/prepared/"
    for name in ("train.csv", "val.csv", "manifest.json"):
        assert f"uploaded s3://{BUCKET}/{prefix}{name}" in done.stdout
        body = _s3(aws.aws.endpoint_urls["s3"]).get_object(Bucket=BUCKET, Key=prefix + name)
        assert body["Body"].read() == (out / name).read_bytes()


def test_an_unnamed_or_missing_bucket_is_one_sentence(
    cli: Any, tmp_path: Path, aws: Settings, raw_csv: Path
) -> None:
    config = _config(tmp_path / "local.toml", aws, "local")
    unnamed = cli("--config", str(config), "preprocess", "--input-csv", str(raw_csv), "--upload")
    assert unnamed.code == 2
    assert "--upload needs --s3-bucket (or aws.bucket in the config)" in unnamed.err
    done = cli(
        "--config",
        str(config),
        "preprocess",
        "--input-csv",
        str(raw_csv),
        "--upload",
        "--s3-bucket",
        "no-such-bucket",
        "--s3-prefix",
        "p",
    )
    assert done.code == 13
    errors = [line for line in done.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "s3://no-such-bucket/p/prepared/train.csv" in errors[0]
