"""The aws registry against moto: each version is a SageMaker model package whose approval
status follows MLflow's tag both ways, and a half-done registration is undone."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from driftloop.backends.aws.registry import MODEL_DATA_TAG, PACKAGE_TAG, SageMakerRegistry
from driftloop.backends.catalog import Backends
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.config import Settings
from driftloop.errors import ConfigError, RegistryError
from driftloop.registry.base import APPROVAL_TAG, APPROVED, CHAMPION, PENDING, REJECTED
from driftloop.registry.lifecycle import approve, promote, reject
from tests.aws import REGION, settings_for
from tests.sagemaker import NAME, PASSED, RUN

pytestmark = pytest.mark.usefixtures("moto_deletes_model_packages")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/driftloop:1"


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """aws settings against a fresh moto, naming an inference image."""
    found = settings_for("aws", tmp_path / ".driftloop", request)
    return found.model_copy(update={"aws": found.aws.model_copy(update={"inference_image": IMAGE})})


@pytest.fixture
def model(request: pytest.FixtureRequest) -> str:
    """The saved MLflow model of the contract tests."""
    return str(request.getfixturevalue("saved_model"))


@pytest.fixture
def registry(settings: Settings) -> SageMakerRegistry:
    """The aws kind's registry, as the composition root builds it."""
    built = Backends.from_settings(settings).registry
    assert isinstance(built, SageMakerRegistry)
    return built


@pytest.fixture
def sagemaker(settings: Settings) -> Any:
    return boto3.client(
        "sagemaker", region_name=REGION, endpoint_url=settings.aws.endpoint_urls["sagemaker"]
    )


def _packages(sagemaker: Any) -> list[tuple[int, str | None]]:
    listed = sagemaker.list_model_packages(ModelPackageGroupName=NAME)["ModelPackageSummaryList"]
    return [(p["ModelPackageVersion"], p.get("ModelApprovalStatus")) for p in listed]


def _mlflow_approval(settings: Settings, version: int) -> str:
    return MlflowRegistry(settings.workspace).get_version(NAME, version).approval


def test_each_version_is_a_model_package_that_approve_and_reject_update(
    registry: SageMakerRegistry, sagemaker: Any, settings: Settings, model: str
) -> None:
    first = registry.create_version(NAME, model, RUN, PASSED)
    registry.create_version(NAME, model, RUN, PASSED)
    assert sagemaker.describe_model_package_group(ModelPackageGroupName=NAME)[
        "ModelPackageGroupArn"
    ]
    assert _packages(sagemaker) == [(1, PENDING), (2, PENDING)]
    package = sagemaker.describe_model_package(ModelPackageName=first.tags[PACKAGE_TAG])
    assert package["CustomerMetadataProperties"] == {
        "mlflow.model": NAME,
        "mlflow.version": "1",
        "mlflow.run_id": RUN,
    }
    [container] = package["InferenceSpecification"]["Containers"]
    assert (container["Image"], container["ModelDataUrl"]) == (IMAGE, first.tags[MODEL_DATA_TAG])

    approve(registry, NAME, 1)
    reject(registry, NAME, 2)
    assert _packages(sagemaker) == [(1, APPROVED), (2, REJECTED)]
    assert (_mlflow_approval(settings, 1), _mlflow_approval(settings, 2)) == (APPROVED, REJECTED)


def test_the_model_data_is_the_mlflow_model_folder_as_a_tarball(
    registry: SageMakerRegistry, settings: Settings, model: str
) -> None:
    data = registry.create_version(NAME, model, RUN, PASSED).tags[MODEL_DATA_TAG]
    bucket, key = data.removeprefix("s3://").split("/", 1)
    assert (bucket, key) == (settings.aws.bucket, "team/churn/registry/churn-model/1/model.tar.gz")
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=settings.aws.endpoint_urls["s3"])
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        assert "MLmodel" in tar.getnames()


def test_a_status_changed_in_sagemaker_is_read_and_copied_to_mlflow(
    registry: SageMakerRegistry, sagemaker: Any, settings: Settings, model: str
) -> None:
    first = registry.create_version(NAME, model, RUN, PASSED)
    registry.create_version(NAME, model, RUN, PASSED)
    arn = first.tags[PACKAGE_TAG]
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=APPROVED)
    assert _mlflow_approval(settings, 1) == PENDING
    assert registry.get_version(NAME, 1).approval == APPROVED
    assert _mlflow_approval(settings, 1) == APPROVED
    assert promote(registry, NAME, 1).aliases == (CHAMPION,)

    second = registry.list_versions(NAME)[1]
    sagemaker.update_model_package(
        ModelPackageArn=second.tags[PACKAGE_TAG], ModelApprovalStatus=REJECTED
    )
    assert [v.approval for v in registry.list_versions(NAME)] == [APPROVED, REJECTED]
    assert _mlflow_approval(settings, 2) == REJECTED


def test_a_name_sagemaker_cannot_take_is_refused_in_one_sentence(
    registry: SageMakerRegistry, sagemaker: Any, model: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        registry.create_version("churn_model v2", model, RUN, PASSED)
    message = str(refused.value)
    assert "'churn_model v2'" in message and "SageMaker model package group" in message
    assert message.count(". ") == 0 and "\n" not in message
    assert registry.list_versions("churn_model v2") == []
    assert sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    with pytest.raises(RegistryError, match="Maybe"):
        registry.create_version(NAME, model, RUN, {APPROVAL_TAG: "Maybe"})


def test_a_registration_failing_half_way_leaves_neither_version_nor_package(
    registry: SageMakerRegistry,
    sagemaker: Any,
    model: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("tracking store down")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError, match="store down"):
        patch.setattr(MlflowRegistry, "set_tags", broken)  # fails after the package exists
        registry.create_version(NAME, model, RUN, PASSED)
    assert registry.list_versions(NAME) == [] and _packages(sagemaker) == []


def test_deleting_a_version_deletes_its_package(
    registry: SageMakerRegistry, sagemaker: Any, model: str
) -> None:
    for _ in range(2):
        registry.create_version(NAME, model, RUN, PASSED)
    registry.delete_version(NAME, 1)
    assert _packages(sagemaker) == [(2, PENDING)]
