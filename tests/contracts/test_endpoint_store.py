"""The endpoint config store contract: revisions, change markers, "not found".

Variants name versions of a registered model (the tiny real one of the registry contract):
on SageMaker, saving a config makes a model per variant from the version's model package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.responses import SageMakerResponse

from driftloop.backends.catalog import Backends
from driftloop.errors import NotFoundError
from driftloop.registry.base import CHAMPION
from driftloop.serving.endpoint_config import EndpointConfig, EndpointConfigStore, Variant
from tests.contracts.test_model_registry import NAME, PASSED, RUN, saved_model  # noqa: F401

STORES = ("endpoints", "registry")
"""The stores these tests exercise: they run for every backend kind that builds them."""

ROLE = "arn:aws:iam::123456789012:role/driftloop-sagemaker"


def _update_endpoint(self: SageMakerResponse) -> str:
    """UpdateEndpoint, which moto 5.2.5 lacks (it answers 500 "not implemented"): the endpoint
    takes the new config at once, where SageMaker rolls it out while the endpoint is Updating."""
    backend = self.sagemaker_backend
    name, config_name = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        raise ValidationError(f"Could not find endpoint '{name}'.")
    config = backend.describe_endpoint_config(config_name)
    endpoint.endpoint_config_name = config_name
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.data_capture_config = config.get("DataCaptureConfig", {})
    endpoint.last_modified_time = utcnow()
    return json.dumps({"EndpointArn": endpoint.arn})


@pytest.fixture(autouse=True)
def moto_updates_endpoints(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Teach the in-process moto server UpdateEndpoint for the length of a test."""
    monkeypatch.setattr(SageMakerResponse, "update_endpoint", _update_endpoint, raising=False)
    yield


@pytest.fixture(autouse=True)
def sagemaker_role(monkeypatch: pytest.MonkeyPatch) -> None:
    """An execution role for the models SageMaker runs (aws.role_arn)."""
    monkeypatch.setenv("DRIFTLOOP_AWS__ROLE_ARN", ROLE)


@pytest.fixture
def store(backends: Backends, saved_model: str) -> EndpointConfigStore:  # noqa: F811
    """The endpoint store, with versions 1 (the champion) and 2 of the model registered."""
    for _ in range(2):
        backends.registry.create_version(NAME, saved_model, RUN, PASSED)
    backends.registry.set_alias(NAME, CHAMPION, 1)
    return backends.endpoints


def _config(name: str, model: str = CHAMPION) -> EndpointConfig:
    return EndpointConfig(
        name=name, model_name=NAME, variants=(Variant(name="AllTraffic", model=model),)
    )


def test_each_save_is_the_next_revision_and_moves_the_marker(store: EndpointConfigStore) -> None:
    assert store.change_marker("churn") is None
    first = store.save(_config("churn"))
    marker = store.change_marker("churn")
    second = store.save(_config("churn", model="2"))
    assert (first.revision, second.revision) == (1, 2)
    assert store.change_marker("churn") != marker
    assert store.get("churn") == second and store.get("churn").variants[0].model == "2"
    store.save(_config("batch"))
    assert [config.name for config in store.list()] == ["batch", "churn"]


def test_unknown_endpoints_are_not_found(store: EndpointConfigStore) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        store.get("nope")
    with pytest.raises(NotFoundError, match="nope"):
        store.delete("nope")
    store.save(_config("churn"))
    store.delete("churn")
    assert store.list() == [] and store.change_marker("churn") is None
