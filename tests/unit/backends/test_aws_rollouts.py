"""Guarded deployments and serverless endpoints on SageMaker, against moto.

A deployment hands SageMaker one blue/green update (UpdateEndpoint with a DeploymentConfig)
and waits for it; moto's UpdateEndpoint (taught to the server, tests/sagemaker.py) keeps the
old config, as SageMaker does after an auto-rollback, when a named alarm is in ALARM.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.sagemaker.responses import SageMakerResponse

from driftloop.backends.aws._deployment import deployment_config, max_seconds
from driftloop.backends.aws.endpoints import SageMakerEndpointStore
from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.deploy.guarded import DeployPlan, deploy
from driftloop.errors import ConfigError
from driftloop.registry.base import APPROVAL_TAG, APPROVED, CHAMPION
from driftloop.serving.endpoint_config import (
    Capture,
    EndpointConfig,
    Rollout,
    Serverless,
    Variant,
    validate_config,
)
from tests.aws import REGION, settings_for
from tests.sagemaker import NAME, PASSED, RUN

pytestmark = pytest.mark.usefixtures("moto_updates_endpoints")
ALARM = "HighLatencyAlarm"
NO_CAPTURE = Capture(enabled=False)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return settings_for("aws", tmp_path / ".driftloop", request)


@pytest.fixture
def backends(settings: Settings, saved_model: str) -> Backends:
    """Versions 1 (the champion) and 2 (approved) of the model on the aws stores."""
    built = Backends.from_settings(settings)
    for _ in range(2):
        built.registry.create_version(NAME, saved_model, RUN, PASSED)
    built.registry.set_alias(NAME, CHAMPION, 1)
    built.registry.set_tags(NAME, 2, {APPROVAL_TAG: APPROVED})
    return built


@pytest.fixture
def updates(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every UpdateEndpoint request moto's server gets."""
    seen: list[dict[str, Any]] = []
    original = SageMakerResponse.update_endpoint

    def handle(self: SageMakerResponse) -> Any:
        seen.append(json.loads(self.body))
        return original(self)

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", handle)
    return seen


def _cloudwatch(settings: Settings) -> Any:
    url = settings.aws.endpoint_urls["cloudwatch"]
    return boto3.client("cloudwatch", region_name=REGION, endpoint_url=url)


def _latency_alarm(settings: Settings, state: str) -> None:
    cloudwatch = _cloudwatch(settings)
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


def _champion(backends: Backends) -> int | None:
    found = backends.registry.get_by_alias(NAME, CHAMPION)
    return None if found is None else found.version


def _one(model: str, **fields: Any) -> EndpointConfig:
    variant = Variant(name="AllTraffic", model=model)
    return EndpointConfig(name="churn", model_name=NAME, variants=(variant,), **fields)


def test_deployment_configs_have_sagemakers_shape_and_limits() -> None:
    canary = deployment_config(Rollout("CANARY", 10, 300, 600, (ALARM,)))
    assert canary == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 300,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
            "TerminationWaitInSeconds": 600,
            "MaximumExecutionTimeoutInSeconds": 2 * 300 + 600 + 1800,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": ALARM}]},
    }
    linear = deployment_config(Rollout("LINEAR", 25, 60, 0, ()))
    routing = linear["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}
    assert "AutoRollbackConfiguration" not in linear
    assert max_seconds(Rollout("ALL_AT_ONCE", 100, 0, 0, ())) == 1800
    with pytest.raises(ConfigError, match=r"whole percentages of capacity, not 12\.5 %"):
        deployment_config(Rollout("CANARY", 12.5, 60, 60, ()))
    with pytest.raises(ConfigError, match="at most 3600 s between shifts; the bake is 4000 s"):
        deployment_config(Rollout("CANARY", 10, 4000, 60, ()))
    with pytest.raises(ConfigError, match="allows an update 28800 s at most"):
        max_seconds(Rollout("LINEAR", 1, 3600, 0, ()))


def test_a_canary_deployment_is_one_blue_green_update_and_promotes_the_version(
    settings: Settings, backends: Backends, updates: list[dict[str, Any]]
) -> None:
    backends.endpoints.save(_one(CHAMPION))
    _latency_alarm(settings, "OK")
    plan = DeployPlan(endpoint="churn", model="2", canary_percent=10, bake_s=120, alarms=[ALARM])
    result = deploy(settings, plan)
    assert (result.status, result.version) == ("completed", 2)
    assert [step["step"] for step in result.steps] == ["completed"]
    [update] = updates
    assert update["EndpointConfigName"] == "churn-2"
    policy = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["CanarySize"]["Value"] == 10
    assert policy["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"] == 120
    rollback = update["DeploymentConfig"]["AutoRollbackConfiguration"]
    assert rollback == {"Alarms": [{"AlarmName": ALARM}]}
    assert backends.endpoints.get("churn").variants == (
        Variant(name="AllTraffic", model="2", weight=1.0),
    )
    assert _champion(backends) == 2


def test_an_alarm_makes_sagemaker_roll_back_and_the_previous_config_is_current_again(
    settings: Settings, backends: Backends
) -> None:
    first = backends.endpoints.save(_one(CHAMPION))
    _latency_alarm(settings, "ALARM")
    plan = DeployPlan(endpoint="churn", model="2", strategy="linear", alarms=[ALARM])
    result = deploy(settings, plan)
    assert result.status == "rolled_back"
    assert f"alarm {ALARM} is in ALARM" in result.reason
    assert result.steps[-1]["reason"] == result.reason
    current = backends.endpoints.get("churn")
    assert (current.variants, current.revision) == (first.variants, 3)
    sagemaker = boto3.client(
        "sagemaker", region_name=REGION, endpoint_url=settings.aws.endpoint_urls["sagemaker"]
    )
    assert sagemaker.describe_endpoint(EndpointName="churn")["EndpointConfigName"] == "churn-1"
    assert _champion(backends) == 1
    steps = [e["detail"]["step"] for e in backends.events.read_events() if "step" in e["detail"]]
    assert steps == ["rolled_back"]


def test_blue_green_needs_one_variant_of_the_same_name_and_no_fault(
    settings: Settings, backends: Backends, updates: list[dict[str, Any]]
) -> None:
    two = EndpointConfig(
        name="churn",
        model_name=NAME,
        variants=(Variant(name="A", model="1"), Variant(name="B", model="2")),
    )
    backends.endpoints.save(two)
    with pytest.raises(ConfigError, match="one production variant to one of the same name"):
        deploy(settings, DeployPlan(endpoint="churn", model="2", promote=False))
    assert updates == [] and backends.endpoints.get("churn").revision == 1


def test_serverless_configs_refuse_what_sagemaker_refuses() -> None:
    base = {"name": "churn", "model_name": NAME, "variants": [{"name": "A", "model": "1"}]}
    quiet = base | {"capture": {"enabled": False}}
    with pytest.raises(ConfigError, match=r"cannot capture data .* set capture\.enabled = false"):
        validate_config(base | {"serverless": {}})
    two = [{"name": "A", "model": "1"}, {"name": "B", "model": "2"}]
    with pytest.raises(ConfigError, match="one production variant and no shadow"):
        validate_config(quiet | {"variants": two, "serverless": {}})
    with pytest.raises(ConfigError, match="and shadow 'S'"):
        validate_config(quiet | {"serverless": {}, "shadow": {"name": "S", "model": "2"}})
    with pytest.raises(ConfigError, match="provisioned_concurrency 30 is above max_concurrency"):
        validate_config(
            quiet | {"serverless": {"max_concurrency": 20, "provisioned_concurrency": 30}}
        )
    with pytest.raises(ConfigError, match="multiple of 1024"):
        validate_config(quiet | {"serverless": {"memory_mb": 1500}})
    assert validate_config(quiet | {"serverless": {}}).serverless == Serverless()


def test_a_serverless_endpoint_has_a_serverless_variant_and_cannot_change_kind(
    settings: Settings, backends: Backends
) -> None:
    store = backends.endpoints
    assert isinstance(store, SageMakerEndpointStore)
    serverless = Serverless(memory_mb=3072, max_concurrency=10, provisioned_concurrency=2)
    store.save(_one(CHAMPION, capture=NO_CAPTURE, serverless=serverless))
    sagemaker = boto3.client(
        "sagemaker", region_name=REGION, endpoint_url=settings.aws.endpoint_urls["sagemaker"]
    )
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName="churn-1")[
        "ProductionVariants"
    ]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": 3072,
        "MaxConcurrency": 10,
        "ProvisionedConcurrency": 2,
    }
    assert "InstanceType" not in variant and "DataCaptureConfig" not in variant
    with pytest.raises(ConfigError, match="is serverless on SageMaker and cannot become instance"):
        store.save(_one("2", capture=NO_CAPTURE))
    with pytest.raises(ConfigError, match=r"is serverless: .* all-at-once deployments only"):
        deploy(settings, DeployPlan(endpoint="churn", model="2", strategy="canary"))
    assert store.get("churn").revision == 1
