"""A release on the aws backend, against moto: the latest Approved model package of the group,
one UpdateEndpoint with a DeploymentConfig, and the smoke request through InvokeEndpoint.

moto's UpdateEndpoint is taught to the server (tests/sagemaker.py: it keeps the old config when
an auto-rollback alarm is in ALARM, as SageMaker does after rolling back). moto's InvokeEndpoint
answers what is queued through its moto-api, whatever the request; the test queues what
driftloop's container would answer and reads the request the server got.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
import requests
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.deploy.release import release
from driftloop.errors import DeploymentRolledBack, ModelError, ModelNotFound
from driftloop.registry.base import (
    APPROVAL_TAG,
    APPROVED,
    CHAMPION,
    PENDING,
    TRAIN_SNAPSHOT_TAG,
)
from driftloop.serving.endpoint_config import EndpointConfig, Variant
from tests.aws import REGION, settings_for
from tests.sagemaker import NAME, PASSED, RUN

pytestmark = pytest.mark.usefixtures("moto_updates_endpoints")
ALARM = "HighLatencyAlarm"
SPEC = TabularSpec(
    columns=(ColumnSpec("x", "numeric"), ColumnSpec("y", "categorical", role="target")),
    target="y",
    positive_label="1",
)
ROWS = pd.DataFrame({"x": [np.nan, 0.5, 3.0, 7.5], "y": ["1", "0", "0", "1"]})
Seen = dict[str, list[dict[str, Any]]]


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return settings_for("aws", tmp_path / ".driftloop", request)


@pytest.fixture
def backends(settings: Settings, saved_model: str) -> Backends:
    """Versions 1 (champion, Approved), 2 and 3 (Pending) trained on one snapshot in S3, and
    endpoint churn on the champion."""
    built = Backends.from_settings(settings)
    snapshot = built.snapshots.put(ROWS, SPEC, name="train")
    for _ in range(3):
        built.registry.create_version(
            NAME, saved_model, RUN, {**PASSED, TRAIN_SNAPSHOT_TAG: snapshot.digest}
        )
    built.registry.set_tags(NAME, 1, {APPROVAL_TAG: APPROVED})
    built.registry.set_alias(NAME, CHAMPION, 1)
    variants = (Variant(name="AllTraffic", model=CHAMPION),)
    built.endpoints.save(EndpointConfig(name="churn", model_name=NAME, variants=variants))
    return built


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Seen:
    """Every UpdateEndpoint and InvokeEndpoint request moto's server gets."""
    got: Seen = {"updates": [], "invocations": []}
    update, invoke = SageMakerResponse.update_endpoint, SageMakerRuntimeResponse.invoke_endpoint

    def updated(self: SageMakerResponse) -> Any:
        got["updates"].append(json.loads(self.body))
        return update(self)

    def invoked(self: SageMakerRuntimeResponse) -> Any:
        headers = {key.lower(): value for key, value in self.headers.items()}
        got["invocations"].append(
            {"endpoint": self.path.split("/")[2], "headers": headers, "body": self.body}
        )
        return invoke(self)

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", updated)
    monkeypatch.setattr(SageMakerRuntimeResponse, "invoke_endpoint", invoked)
    return got


def _sagemaker(settings: Settings) -> Any:
    url = settings.aws.endpoint_urls["sagemaker"]
    return boto3.client("sagemaker", region_name=REGION, endpoint_url=url)


def _approve_in_sagemaker(settings: Settings, version: int) -> None:
    """Approve the version's model package in SageMaker, as a reviewer in Studio would."""
    packages = _sagemaker(settings).list_model_packages(ModelPackageGroupName=NAME)
    [arn] = [
        p["ModelPackageArn"]
        for p in packages["ModelPackageSummaryList"]
        if p["ModelPackageArn"].endswith(f"/{version}")
    ]
    _sagemaker(settings).update_model_package(ModelPackageArn=arn, ModelApprovalStatus=APPROVED)


def _alarm(settings: Settings, state: str) -> None:
    url = settings.aws.endpoint_urls["cloudwatch"]
    cloudwatch = boto3.client("cloudwatch", region_name=REGION, endpoint_url=url)
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=[{"Name": "EndpointName", "Value": "churn"}],
        Statistic="Average",
        Period=60,
        EvaluationPeriods=2,
        Threshold=1000,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue=state, StateReason="test")


def _answer(settings: Settings, probabilities: list[Any]) -> None:
    """What the endpoint answers next: driftloop's container's JSON answer."""
    predictions = [{"probability": p, "label": "1"} for p in probabilities]
    body = {"predictions": predictions, "model_version": "local", "variant": "AllTraffic"}
    result = {
        "Body": json.dumps(body),
        "ContentType": "application/json",
        "InvokedProductionVariant": "AllTraffic",
    }
    url = settings.aws.endpoint_urls["sagemaker-runtime"]
    sent = requests.post(
        f"{url}/moto-api/static/sagemaker/endpoint-results", json={"results": [result]}, timeout=10
    )
    sent.raise_for_status()


def _release(settings: Settings) -> Any:
    plan = {"strategy": "canary", "canary_percent": 10, "bake_s": 120, "alarms": [ALARM]}
    return release(settings, "churn", overrides=plan, rows=3)


def test_the_latest_approved_package_is_rolled_out_by_sagemaker_and_answers_the_smoke_request(
    settings: Settings, backends: Backends, seen: Seen
) -> None:
    _approve_in_sagemaker(settings, 2)  # v3 is newer, but Pending
    _alarm(settings, "OK")
    _answer(settings, [0.25, 0.5, 0.75])

    done = _release(settings)

    assert (done.version, done.action, done.previous) == (2, "completed", 1)
    [update] = seen["updates"]
    assert update["EndpointConfigName"] == "churn-2"
    deployment = update["DeploymentConfig"]
    routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"]["Value"] == 10
    assert deployment["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": ALARM}]}
    [smoke] = seen["invocations"]
    assert smoke["endpoint"] == "churn"
    assert json.loads(smoke["body"]) == [{"x": 0.5}, {"x": 3.0}, {"x": 7.5}]  # complete rows
    assert smoke["headers"]["content-type"] == "application/json"
    assert smoke["headers"]["x-amzn-sagemaker-inference-id"].startswith("release-smoke-v2-")
    assert f"/{REGION}/sagemaker/aws4_request" in smoke["headers"]["authorization"]
    assert done.smoke.probabilities == [0.25, 0.5, 0.75]
    assert (done.smoke.variant, done.smoke.via) == (
        "AllTraffic",
        settings.aws.endpoint_urls["sagemaker-runtime"],
    )
    assert backends.endpoints.get("churn").variants == (
        Variant(name="AllTraffic", model="2", weight=1.0),
    )
    found = backends.registry.get_by_alias(NAME, CHAMPION)
    assert found is not None and found.version == 2


def test_no_approved_package_is_one_sentence_before_any_call(
    settings: Settings, backends: Backends, seen: Seen
) -> None:
    backends.registry.set_tags(NAME, 1, {APPROVAL_TAG: PENDING})
    with pytest.raises(ModelNotFound, match="churn-model has no Approved version to deploy"):
        _release(settings)
    assert seen == {"updates": [], "invocations": []}


def test_a_sagemaker_roll_back_exits_9_and_sends_no_smoke_request(
    settings: Settings, backends: Backends, seen: Seen
) -> None:
    _approve_in_sagemaker(settings, 3)
    _alarm(settings, "ALARM")
    with pytest.raises(DeploymentRolledBack) as raised:
        _release(settings)
    assert raised.value.exit_code == 9
    assert raised.value.message.startswith("deployment of v3 to churn rolled back: ")
    assert f"alarm {ALARM} is in ALARM" in raised.value.message
    assert len(seen["updates"]) == 1 and seen["invocations"] == []
    assert backends.endpoints.get("churn").variants[0].model == CHAMPION


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ([0.25, 1.5, 0.75], "row 2's probability is 1.5, not a number in [0, 1]"),
        ([0.25, 0.5], "the answer holds 2 predictions for 3 rows"),
    ],
    ids=["out-of-range", "a-row-short"],
)
def test_a_wrong_answer_fails_the_smoke_test(
    settings: Settings, backends: Backends, seen: Seen, answer: list[Any], problem: str
) -> None:
    _approve_in_sagemaker(settings, 2)
    _alarm(settings, "OK")
    _answer(settings, answer)
    with pytest.raises(ModelError) as raised:
        _release(settings)
    assert raised.value.exit_code == 1
    assert raised.value.message == (
        f"smoke test of churn-model v2 on endpoint 'churn' failed: {problem}; the endpoint "
        "serves v2; `driftloop deploy --endpoint churn --model 1` brings back v1"
    )
    assert len(seen["invocations"]) == 1
