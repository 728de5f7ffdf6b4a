"""SageMaker in tests: a tiny real model, the registry's test names, and the operations moto
5.2.5 lacks (UpdateEndpoint, DeleteModelPackage), taught to the in-process moto server for the
length of a test by the fixtures ``moto_updates_endpoints`` and ``moto_deletes_model_packages``
(tests/conftest.py)."""

from __future__ import annotations

import json
import uuid

import mlflow
import numpy as np
import pytest
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from driftloop.registry.base import APPROVAL_TAG, GATE_TAG, PENDING

NAME = "churn-model"
RUN = uuid.uuid4().hex
PASSED = {GATE_TAG: "passed", APPROVAL_TAG: PENDING}
ROLE = "arn:aws:iam::123456789012:role/driftloop-sagemaker"


def save_tiny_model(folder: str) -> str:
    """An MLflow model folder holding a fitted two-step pipeline (one feature)."""
    features, target = np.arange(8.0).reshape(-1, 1), [0, 0, 0, 0, 1, 1, 1, 1]
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, target)
    mlflow.sklearn.save_model(pipeline, folder)
    return folder


def _delete_model_package(self: SageMakerResponse) -> str:
    """DeleteModelPackage, which moto 5.2.5 lacks (it answers 500 "not implemented")."""
    backend, name = self.sagemaker_backend, self._get_param("ModelPackageName")
    arn = backend.model_package_name_mapping.get(name, name)
    if backend.model_packages.pop(arn, None) is None:
        raise ValidationError(f"Model package {name} not found")
    return "{}"


def _update_endpoint(self: SageMakerResponse) -> str:
    """UpdateEndpoint, which moto 5.2.5 lacks (it answers 500 "not implemented"): the endpoint
    takes the new config at once, where SageMaker rolls it out while the endpoint is Updating.
    A DeploymentConfig is kept as LastDeploymentConfig; when one of its auto-rollback alarms
    is in ALARM in moto's CloudWatch, the endpoint keeps its config and says why, as SageMaker
    does after rolling back."""
    backend = self.sagemaker_backend
    name, config_name = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(f"Could not find endpoint '{name}'.")
    config = backend.describe_endpoint_config(config_name)
    deployment = self._get_param("DeploymentConfig")
    if deployment is not None:
        endpoint.last_deployment_config = deployment
        firing = _firing(self, deployment.get("AutoRollbackConfiguration", {}).get("Alarms", []))
        if firing:
            endpoint.failure_reason = f"Rolled back: alarm {firing} is in ALARM"
            endpoint.last_modified_time = utcnow()
            return json.dumps({"EndpointArn": endpoint.arn})
    endpoint.endpoint_config_name = config_name
    endpoint.failure_reason = None
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.data_capture_config = config.get("DataCaptureConfig", {})
    endpoint.last_modified_time = utcnow()
    return json.dumps({"EndpointArn": endpoint.arn})


def _firing(response: SageMakerResponse, alarms: list[dict[str, str]]) -> str | None:
    """The first of ``alarms`` that is in ALARM in moto's CloudWatch (None: none is)."""
    cloudwatch = cloudwatch_backends[response.current_account][response.region]
    for alarm in alarms:
        found = cloudwatch.alarms.get(alarm["AlarmName"])
        if found is not None and found.state_value == "ALARM":
            return alarm["AlarmName"]
    return None


def teach_moto(monkeypatch: pytest.MonkeyPatch, operation: str) -> None:
    """Add ``operation`` ("update_endpoint" or "delete_model_package") to moto's SageMaker."""
    handlers = {"update_endpoint": _update_endpoint, "delete_model_package": _delete_model_package}
    monkeypatch.setattr(SageMakerResponse, operation, handlers[operation], raising=False)
