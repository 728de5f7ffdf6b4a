"""The model registry on AWS: MLflow keeps the record, SageMaker's model registry mirrors it.

MLflow (the workspace's tracking store) keeps each version's files, run, tags and aliases. A
registered model has a SageMaker model package group of the same name, and each version a
model package in it (its files as ``model.tar.gz`` on S3) whose ModelApprovalStatus follows the
version's approval tag both ways: driftloop writes SageMaker first, and a status changed in
SageMaker (Studio, the CLI) is copied to MLflow when the version is next read.
"""

from __future__ import annotations

import io
import logging
import re
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow

from driftloop.backends.aws._clients import call, client, translated
from driftloop.backends.aws._s3 import Bucket
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.config import Settings
from driftloop.errors import ConfigError, DriftloopError, RegistryError
from driftloop.registry.base import (
    APPROVAL_TAG,
    APPROVED,
    PENDING,
    REJECTED,
    ModelRegistry,
    ModelVersion,
)

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends

log = logging.getLogger(__name__)

PACKAGE_TAG = "sagemaker_model_package_arn"
"""MLflow version tag: the ARN of the version's SageMaker model package."""
MODEL_DATA_TAG = "sagemaker_model_data"
"""MLflow version tag: the S3 URI of the version's ``model.tar.gz``."""
STATUSES = (PENDING, APPROVED, REJECTED)
# What driftloop's container reads and answers (JSON unless asked for CSV).
CONTENT_TYPES = ["text/csv", "application/json"]
RESPONSE_TYPES = ["application/json", "text/csv"]
_GROUP_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_PAGE = {"PageSize": 100}


def group_name(name: str) -> str:
    """The SageMaker model package group of model ``name`` (the same name, when it can be)."""
    if not _GROUP_NAME.fullmatch(name):
        raise ConfigError(
            f"model name {name!r} cannot name a SageMaker model package group: use at most 63 "
            "letters, digits and hyphens, starting and ending with a letter or digit"
        )
    return name


def approval(tags: dict[str, str]) -> str:
    """The approval status ``tags`` set (Pending when unset), one SageMaker knows."""
    status = tags.get(APPROVAL_TAG, PENDING)
    if status not in STATUSES:
        raise RegistryError(f"{APPROVAL_TAG} {status!r} is not one of {', '.join(STATUSES)}")
    return status


class SageMakerRegistry(ModelRegistry):
    """:class:`ModelRegistry` on MLflow, mirrored to SageMaker model packages."""

    def __init__(self, settings: Settings, stores: Backends) -> None:
        self._aws = settings.aws
        self._uri = settings.workspace.tracking_uri
        self._mlflow = MlflowRegistry(settings.workspace)
        self._sagemaker = client(settings, "sagemaker")
        self._bucket = Bucket(settings)
        self.events = stores.events

    def create_version(
        self, name: str, model_uri: str, run_id: str, tags: dict[str, str]
    ) -> ModelVersion:
        group, status = group_name(name), approval(tags)
        created = self._mlflow.create_version(name, model_uri, run_id, tags)
        arn = None
        try:
            self._ensure_group(group)
            data = self._upload(created)
            arn = self._create_package(group, created, status, data)
            self._mlflow.set_tags(name, created.version, {PACKAGE_TAG: arn, MODEL_DATA_TAG: data})
        except BaseException:
            self._discard(created, arn)
            raise
        return self._mlflow.get_version(name, created.version)

    def get_version(self, name: str, version: int) -> ModelVersion:
        return self._in_step(self._mlflow.get_version(name, version))

    def get_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        found = self._mlflow.get_by_alias(name, alias)
        return None if found is None else self._in_step(found)

    def list_versions(self, name: str) -> list[ModelVersion]:
        versions = self._mlflow.list_versions(name)
        if not any(PACKAGE_TAG in v.tags for v in versions):
            return versions
        statuses = self._statuses(name)
        return [self._in_step(v, statuses) for v in versions]

    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        """SageMaker's status first: should MLflow then fail, the next read copies it back."""
        arn = self._mlflow.get_version(name, version).tags.get(PACKAGE_TAG)
        status = approval(tags) if APPROVAL_TAG in tags else None
        if status is not None and arn is not None:
            call(
                "sagemaker",
                self._sagemaker.update_model_package,
                arn,
                ModelPackageArn=arn,
                ModelApprovalStatus=status,
            )
        self._mlflow.set_tags(name, version, tags)

    def set_alias(self, name: str, alias: str, version: int) -> None:
        self._mlflow.set_alias(name, alias, version)

    def delete_alias(self, name: str, alias: str) -> None:
        self._mlflow.delete_alias(name, alias)

    def delete_version(self, name: str, version: int) -> None:
        arn = self._mlflow.get_version(name, version).tags.get(PACKAGE_TAG)
        if arn is not None and arn in self._statuses(name):
            self._delete_package(arn)
        self._mlflow.delete_version(name, version)

    def load_model(self, name: str, version: int) -> Any:
        return self._mlflow.load_model(name, version)

    def run_artifacts(self, name: str, version: int, folder: str = "") -> list[str]:
        """From the MLflow run, as the local registry (no SageMaker call)."""
        return self._mlflow.run_artifacts(name, version, folder)

    def run_artifact(self, name: str, version: int, path: str) -> bytes:
        return self._mlflow.run_artifact(name, version, path)

    def _in_step(
        self, version: ModelVersion, statuses: dict[str, str | None] | None = None
    ) -> ModelVersion:
        """``version`` with SageMaker's approval status, copied to MLflow when they differ. A
        version without a package (or whose package is gone) keeps MLflow's."""
        arn = version.tags.get(PACKAGE_TAG)
        if arn is None:
            return version
        status = (self._statuses(version.name) if statuses is None else statuses).get(arn)
        if status is None or status == version.approval:
            return version
        log.info("%s v%s: SageMaker says %s", version.name, version.version, status)
        self._mlflow.set_tags(version.name, version.version, {APPROVAL_TAG: status})
        return replace(version, tags={**version.tags, APPROVAL_TAG: status})

    def _statuses(self, name: str) -> dict[str, str | None]:
        """Package ARN -> ModelApprovalStatus, for every package in the group of ``name``. A
        listing rather than DescribeModelPackage: a missing package is absent, not an error."""
        group = group_name(name)
        pages = self._sagemaker.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, PaginationConfig=_PAGE
        )
        with translated("sagemaker", "ListModelPackages", group):
            return {
                package["ModelPackageArn"]: package.get("ModelApprovalStatus")
                for page in pages
                for package in page["ModelPackageSummaryList"]
            }

    def _ensure_group(self, group: str) -> None:
        pages = self._sagemaker.get_paginator("list_model_package_groups").paginate(
            NameContains=group, PaginationConfig=_PAGE
        )
        with translated("sagemaker", "ListModelPackageGroups", group):
            names = {
                g["ModelPackageGroupName"] for p in pages for g in p["ModelPackageGroupSummaryList"]
            }
        if group not in names:
            call(
                "sagemaker",
                self._sagemaker.create_model_package_group,
                group,
                ModelPackageGroupName=group,
                ModelPackageGroupDescription=f"driftloop model {group} (versions kept in MLflow)",
            )

    def _upload(self, version: ModelVersion) -> str:
        """Put the version's MLflow model folder on S3 as ``model.tar.gz`` (what SageMaker
        unpacks into /opt/ml/model); return its URI."""
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory() as folder:
            model = mlflow.artifacts.download_artifacts(
                f"models:/{version.name}/{version.version}",
                dst_path=folder,
                tracking_uri=self._uri,
                registry_uri=self._uri,
            )
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                for child in sorted(Path(model).iterdir()):
                    tar.add(child, arcname=child.name)
        relative = f"registry/{version.name}/{version.version}/model.tar.gz"
        self._bucket.put(relative, buffer.getvalue())
        return self._bucket.uri(relative)

    def _create_package(self, group: str, version: ModelVersion, status: str, data: str) -> str:
        request: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelPackageDescription": f"MLflow model {version.name} version {version.version}",
            "ModelApprovalStatus": status,
            "CustomerMetadataProperties": {
                "mlflow.model": version.name,
                "mlflow.version": str(version.version),
                "mlflow.run_id": version.run_id,
            },
        }
        if self._aws.inference_image:
            request["InferenceSpecification"] = {
                "Containers": [{"Image": self._aws.inference_image, "ModelDataUrl": data}],
                "SupportedContentTypes": CONTENT_TYPES,
                "SupportedResponseMIMETypes": RESPONSE_TYPES,
                "SupportedRealtimeInferenceInstanceTypes": [self._aws.inference_instance_type],
            }
        answer = call("sagemaker", self._sagemaker.create_model_package, group, **request)
        return str(answer["ModelPackageArn"])

    def _delete_package(self, arn: str) -> None:
        # The model data stays on S3: a deployed model may still scale out from it.
        call("sagemaker", self._sagemaker.delete_model_package, arn, ModelPackageName=arn)

    def _discard(self, version: ModelVersion, arn: str | None) -> None:
        """Undo a registration that failed half-way: its package (as far as SageMaker lets),
        then the MLflow version."""
        if arn is not None:
            try:
                self._delete_package(arn)
            except DriftloopError as exc:
                log.warning("model package %s is left behind: %s", arn, exc)
        self._mlflow.delete_version(version.name, version.version)
