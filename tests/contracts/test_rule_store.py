"""The rule store contract (PutRule, ListRules, DescribeRule, DeleteRule)."""

from __future__ import annotations

import pytest

from driftloop.backends.catalog import Backends
from driftloop.errors import ConfigError, NotFoundError

STORES = ("rules",)
"""The stores these tests exercise: they run for every backend kind that builds them."""


def test_rules_keep_their_place_when_replaced(backends: Backends) -> None:
    store = backends.rules
    store.put({"name": "a", "targets": [{"type": "retrain"}]})
    store.put({"name": "b", "event_pattern": {"source": ["driftloop.monitoring"]}})
    store.put({"name": "a", "enabled": False})
    assert [(rule.name, rule.enabled) for rule in store.list()] == [("a", False), ("b", True)]
    assert store.get("b").event_pattern == {"source": ["driftloop.monitoring"]}


def test_invalid_rules_are_refused_and_change_nothing(backends: Backends) -> None:
    store = backends.rules
    store.put({"name": "a"})
    with pytest.raises(ConfigError, match=r"pattern\.source"):
        store.put({"name": "b", "event_pattern": {"source": "not a list"}})
    assert [rule.name for rule in store.list()] == ["a"]


def test_unknown_rules_are_not_found(backends: Backends) -> None:
    store = backends.rules
    with pytest.raises(NotFoundError, match="nope"):
        store.get("nope")
    with pytest.raises(NotFoundError, match="nope"):
        store.delete("nope")
    store.put({"name": "a"})
    store.delete("a")
    assert store.list() == []
