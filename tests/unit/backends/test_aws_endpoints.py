"""The aws endpoint store against moto: what a save makes on SageMaker, UpdateEndpoint for the
next revision, nothing left behind by a failed save, and one sentence for what SageMaker refuses.

moto 5.2.5 has no UpdateEndpoint (a handler is added to the server, from the contract tests)
and drops ShadowProductionVariants, so the shadow is read from the request the server got.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse

from driftloop.backends.aws.endpoints import SageMakerEndpointStore, model_name
from driftloop.backends.aws.registry import PACKAGE_TAG
from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.errors import CloudError, DriftloopError
from driftloop.registry.base import CHAMPION
from driftloop.serving.endpoint_config import Capture, EndpointConfig, Fault, Shadow, Variant

# Fixtures shared with the contract tests: moto's server, the saved model, UpdateEndpoint.
from tests.aws import BUCKET, REGION, settings_for
from tests.sagemaker import NAME, PASSED, ROLE, RUN

pytestmark = pytest.mark.usefixtures("moto_updates_endpoints")
SAGEMAKER_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
Requests = list[tuple[str, dict[str, Any]]]


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """aws settings against a fresh moto, naming an execution role."""
    found = settings_for("aws", tmp_path / ".driftloop", request)
    return found.model_copy(update={"aws": found.aws.model_copy(update={"role_arn": ROLE})})


@pytest.fixture
def backends(settings: Settings, saved_model: str) -> Backends:
    """The aws stores, with versions 1 (the champion) and 2 of the model registered."""
    built = Backends.from_settings(settings)
    for _ in range(2):
        built.registry.create_version(NAME, saved_model, RUN, PASSED)
    built.registry.set_alias(NAME, CHAMPION, 1)
    return built


@pytest.fixture
def store(backends: Backends) -> SageMakerEndpointStore:
    built = backends.endpoints
    assert isinstance(built, SageMakerEndpointStore)
    return built


@pytest.fixture
def sagemaker(settings: Settings) -> Any:
    url = settings.aws.endpoint_urls["sagemaker"]
    return boto3.client("sagemaker", region_name=REGION, endpoint_url=url)


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Requests:
    """Every CreateEndpointConfig, CreateEndpoint and UpdateEndpoint moto's server gets."""
    seen: Requests = []
    for operation in ("create_endpoint_config", "create_endpoint", "update_endpoint"):
        monkeypatch.setattr(SageMakerResponse, operation, _recording(operation, seen))
    return seen


def _recording(operation: str, seen: Requests) -> Callable[[SageMakerResponse], Any]:
    original = getattr(SageMakerResponse, operation)

    def handle(self: SageMakerResponse) -> Any:
        seen.append((operation, json.loads(self.body)))
        return original(self)

    return handle


def _failing(self: SageMakerResponse) -> str:
    raise ValidationError("injected failure")


def _config(*variants: Variant, **fields: Any) -> EndpointConfig:
    return EndpointConfig(name="churn", model_name=NAME, variants=variants, **fields)


def _made(sagemaker: Any) -> tuple[list[str], list[str], list[str]]:
    """The names of every endpoint, endpoint config and model on SageMaker."""
    return (
        sorted(e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]),
        sorted(
            c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
        ),
        sorted(m["ModelName"] for m in sagemaker.list_models()["Models"]),
    )


def test_a_save_makes_a_model_per_variant_and_a_config_with_weights_shadow_and_capture(
    backends: Backends, store: SageMakerEndpointStore, sagemaker: Any, requests: Requests
) -> None:
    config = _config(
        Variant(name="A", model=CHAMPION, weight=3),
        Variant(name="B", model="2", weight=1),
        shadow=Shadow(name="S", model="2", sampling_percent=20),
        capture=Capture(sampling_percent=50, modes=("Input",)),
    )
    stored = store.save(config)
    assert store.get("churn") == stored and stored.revision == 1
    endpoint = sagemaker.describe_endpoint(EndpointName="churn")
    assert endpoint["EndpointConfigName"] == "churn-1"
    described = sagemaker.describe_endpoint_config(EndpointConfigName="churn-1")
    variants = {v["VariantName"]: v for v in described["ProductionVariants"]}
    assert {name: v["InitialVariantWeight"] for name, v in variants.items()} == {"A": 3, "B": 1}
    assert {(v["InstanceType"], v["InitialInstanceCount"]) for v in variants.values()} == {
        ("ml.m5.large", 1)
    }
    assert described["DataCaptureConfig"] == {
        "EnableCapture": True,
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": f"s3://{BUCKET}/team/churn/datacapture",
        "CaptureOptions": [{"CaptureMode": "Input"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json"],
        },
    }
    [(_, sent)] = [r for r in requests if r[0] == "create_endpoint_config"]
    [shadow] = sent["ShadowProductionVariants"]  # moto drops it: read from the request
    assert (shadow["VariantName"], shadow["InitialVariantWeight"]) == ("S", 0.8)  # 20 % of 4
    for variant, version in (("A", 1), ("B", 2), ("S", 2)):
        model = variants[variant]["ModelName"] if variant != "S" else shadow["ModelName"]
        described_model = sagemaker.describe_model(ModelName=model)
        package = backends.registry.get_version(NAME, version).tags[PACKAGE_TAG]
        assert described_model["PrimaryContainer"] == {"ModelPackageName": package}
        assert described_model["ExecutionRoleArn"] == ROLE and SAGEMAKER_NAME.fullmatch(model)
    assert len(_made(sagemaker)[2]) == 3  # one model per variant
    [event] = [e for e in backends.events.read_events() if e["source"] == "driftloop.deploy"]
    assert (event["detail-type"], event["detail"]["revision"]) == ("Endpoint Config Updated", 1)


def test_the_next_revision_goes_through_update_endpoint(
    store: SageMakerEndpointStore, sagemaker: Any, requests: Requests
) -> None:
    store.save(_config(Variant(name="AllTraffic", model=CHAMPION)))
    store.save(_config(Variant(name="AllTraffic", model="2")))
    assert [
        (op, sent["EndpointConfigName"]) for op, sent in requests if op != "create_endpoint_config"
    ] == [
        ("create_endpoint", "churn-1"),
        ("update_endpoint", "churn-2"),
    ]
    assert sagemaker.describe_endpoint(EndpointName="churn")["EndpointConfigName"] == "churn-2"
    models = _made(sagemaker)[2]
    assert store.save(_config(Variant(name="AllTraffic", model="2"))).revision == 3
    assert _made(sagemaker)[1:] == (["churn-1", "churn-2", "churn-3"], models)  # model reused


def test_a_failed_create_leaves_nothing_behind(
    store: SageMakerEndpointStore, sagemaker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SageMakerResponse, "create_endpoint", _failing)
    with pytest.raises(CloudError, match="injected failure"):
        store.save(_config(Variant(name="AllTraffic", model=CHAMPION)))
    assert _made(sagemaker) == ([], [], []) and store.list() == []


def test_a_failed_update_leaves_the_previous_revision_as_it_was(
    store: SageMakerEndpointStore, sagemaker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store.save(_config(Variant(name="AllTraffic", model=CHAMPION)))
    before = _made(sagemaker)
    monkeypatch.setattr(SageMakerResponse, "update_endpoint", _failing)
    with pytest.raises(CloudError, match="injected failure"):
        store.save(_config(Variant(name="AllTraffic", model="2")))
    assert _made(sagemaker) == before and before[1] == ["churn-1"]
    assert store.get("churn") == first


def test_delete_removes_what_driftloop_made_for_that_endpoint_only(
    store: SageMakerEndpointStore, sagemaker: Any
) -> None:
    store.save(_config(Variant(name="AllTraffic", model=CHAMPION)))
    store.save(_config(Variant(name="AllTraffic", model="2")))
    other = EndpointConfig(
        name="churn-b", model_name=NAME, variants=(Variant(name="AllTraffic", model="2"),)
    )
    store.save(other)
    kept = _made(sagemaker)
    store.delete("churn")
    endpoints, configs, models = _made(sagemaker)
    assert (endpoints, configs) == (["churn-b"], ["churn-b-1"])
    assert len(models) == 1 and models[0] in kept[2] and models[0].startswith("churn-b-")


def test_what_sagemaker_cannot_take_is_one_sentence_and_makes_nothing(
    store: SageMakerEndpointStore, sagemaker: Any
) -> None:
    faulty = Variant(name="AllTraffic", model=CHAMPION, fault=Fault(delay_ms=50))
    long_name = EndpointConfig(
        name="e" * 62, model_name=NAME, variants=(Variant(name="A", model=CHAMPION),)
    )
    cases = [
        (_config(faulty), "variant 'AllTraffic': fault injection runs only"),
        (long_name, "is too long for SageMaker"),
        (_config(Variant(name="A", model="1"), capture=Capture(sampling_percent=2.5)), "whole"),
        (_config(Variant(name="A", model="9")), "variant 'A'"),
    ]
    for config, words in cases:
        with pytest.raises(DriftloopError) as raised:
            store.save(config)
        assert words in str(raised.value) and ". " not in str(raised.value).rstrip(".")
    assert _made(sagemaker) == ([], [], []) and store.list() == []


def test_model_names_fit_sagemaker() -> None:
    name = model_name("e" * 63, "v" * 63, 12, {"PrimaryContainer": {}})
    assert len(name) == 63 and SAGEMAKER_NAME.fullmatch(name)
    assert name != model_name("e" * 63, "v" * 63, 12, {"PrimaryContainer": {"Image": "x"}})
