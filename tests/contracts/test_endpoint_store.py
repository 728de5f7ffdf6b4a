"""The endpoint config store contract: revisions, change markers, "not found"."""

from __future__ import annotations

import pytest

from driftloop.backends.catalog import Backends
from driftloop.errors import NotFoundError
from driftloop.serving.endpoint_config import EndpointConfig, Variant

STORES = ("endpoints",)
"""The stores these tests exercise: they run for every backend kind that builds them."""


def _config(name: str, model: str = "champion") -> EndpointConfig:
    return EndpointConfig(
        name=name, model_name="churn-model", variants=(Variant(name="AllTraffic", model=model),)
    )


def test_each_save_is_the_next_revision_and_moves_the_marker(backends: Backends) -> None:
    store = backends.endpoints
    assert store.change_marker("churn") is None
    first = store.save(_config("churn"))
    marker = store.change_marker("churn")
    second = store.save(_config("churn", model="3"))
    assert (first.revision, second.revision) == (1, 2)
    assert store.change_marker("churn") != marker
    assert store.get("churn").variants[0].model == "3"
    store.save(_config("batch"))
    assert [config.name for config in store.list()] == ["batch", "churn"]


def test_unknown_endpoints_are_not_found(backends: Backends) -> None:
    store = backends.endpoints
    with pytest.raises(NotFoundError, match="nope"):
        store.get("nope")
    with pytest.raises(NotFoundError, match="nope"):
        store.delete("nope")
    store.save(_config("churn"))
    store.delete("churn")
    assert store.list() == [] and store.change_marker("churn") is None
