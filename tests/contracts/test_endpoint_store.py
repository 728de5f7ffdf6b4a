"""The endpoint config store contract: revisions, change markers, "not found".

Variants name versions of a registered model (the tiny real one of the registry contract):
on SageMaker, saving a config makes a model per variant from the version's model package.
"""

from __future__ import annotations

import pytest

from driftloop.backends.catalog import Backends
from driftloop.errors import NotFoundError
from driftloop.registry.base import CHAMPION
from driftloop.serving.endpoint_config import EndpointConfig, EndpointConfigStore, Variant
from tests.sagemaker import NAME, PASSED, RUN

STORES = ("endpoints", "registry")
"""The stores these tests exercise: they run for every backend kind that builds them."""

pytestmark = pytest.mark.usefixtures("moto_updates_endpoints")


@pytest.fixture
def store(backends: Backends, saved_model: str) -> EndpointConfigStore:
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
