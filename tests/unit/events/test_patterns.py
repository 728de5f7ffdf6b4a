"""EventBridge-style patterns: every matcher, nesting, lists, and malformed patterns."""

from __future__ import annotations

from typing import Any

import pytest

from driftloop.errors import ConfigError
from driftloop.events.patterns import matches, validate_pattern

EVENT: dict[str, Any] = {
    "id": "e1",
    "source": "driftloop.alarms",
    "detail-type": "Alarm State Change",
    "detail": {
        "alarm": "latency-p99",
        "state": {"value": "ALARM", "previous": "OK"},
        "value": 250.0,
        "count": 3,
        "tags": ["prod", "churn"],
        "flag": True,
        "note": None,
        "hosts": [{"name": "a", "load": 0.2}, {"name": "b", "load": 0.9}],
    },
}


def check(pattern: dict[str, Any]) -> bool:
    validate_pattern(pattern)
    return matches(pattern, EVENT)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({}, True),
        ({"source": ["driftloop.alarms"]}, True),
        ({"source": ["driftloop.training"]}, False),
        ({"source": ["x", "driftloop.alarms"]}, True),
        ({"source": ["driftloop.alarms"], "detail-type": ["Other"]}, False),
        ({"detail": {"state": {"value": ["ALARM"]}}}, True),
        ({"detail": {"state": {"value": ["OK"]}}}, False),
        ({"detail": {"missing": {"deeper": ["x"]}}}, False),
        ({"detail": {"count": [3]}}, True),
        ({"detail": {"count": ["3"]}}, False),
        ({"detail": {"count": [3.0]}}, False),  # numbers match by their text: 3 is not 3.0
        ({"detail": {"value": [250.0]}}, True),
        ({"detail": {"flag": [True]}}, True),
        ({"detail": {"flag": [1]}}, False),
        ({"detail": {"note": [None]}}, True),
        ({"detail": {"tags": ["churn"]}}, True),
        ({"detail": {"tags": ["staging"]}}, False),
        ({"detail": {"hosts": {"name": ["b"]}}}, True),
        ({"detail": {"hosts": {"name": ["c"]}}}, False),
    ],
)
def test_exact_values_nesting_and_lists(pattern: dict[str, Any], expected: bool) -> None:
    assert check(pattern) is expected


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        ({"prefix": "lat"}, True),
        ({"prefix": "err"}, False),
        ({"anything-but": "errors"}, True),
        ({"anything-but": "latency-p99"}, False),
        ({"anything-but": ["a", "latency-p99"]}, False),
        ({"anything-but": ["a", "b"]}, True),
        ({"anything-but": {"prefix": "lat"}}, False),
        ({"anything-but": {"prefix": "err"}}, True),
        ({"exists": True}, True),
        ({"exists": False}, False),
    ],
)
def test_string_matchers(matcher: dict[str, Any], expected: bool) -> None:
    assert check({"detail": {"alarm": [matcher]}}) is expected


@pytest.mark.parametrize(
    ("numeric", "expected"),
    [
        ([">", 200], True),
        ([">", 250], False),
        ([">=", 250], True),
        (["<", 250], False),
        (["<=", 250], True),
        (["=", 250], True),
        ([">", 0, "<=", 250], True),
        ([">", 0, "<", 100], False),
        (["<", 300, ">=", 200], True),
    ],
)
def test_numeric_ranges(numeric: list[Any], expected: bool) -> None:
    assert check({"detail": {"value": [{"numeric": numeric}]}}) is expected


def test_numeric_ignores_non_numbers() -> None:
    assert not check({"detail": {"alarm": [{"numeric": [">", 0]}]}})
    assert not check({"detail": {"flag": [{"numeric": [">", 0]}]}})


def test_exists_false_matches_missing_fields_only() -> None:
    assert check({"detail": {"absent": [{"exists": False}]}})
    assert not check({"detail": {"absent": [{"exists": True}]}})
    assert check({"nowhere": {"deeper": [{"exists": False}]}})
    assert check({"detail": {"note": [{"exists": True}]}})


def test_missing_fields_match_no_value_matcher() -> None:
    assert not check({"detail": {"absent": [{"anything-but": "x"}]}})
    assert not check({"detail": {"absent": [None]}})


def test_matchers_apply_to_any_list_element() -> None:
    assert check({"detail": {"tags": [{"prefix": "ch"}]}})
    assert check({"detail": {"tags": [{"anything-but": "prod"}]}})
    assert check({"detail": {"hosts": {"load": [{"numeric": [">", 0.5]}]}}})


def test_or_within_a_list_and_across_matchers() -> None:
    assert check({"detail": {"alarm": ["nope", {"prefix": "latency"}]}})


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ([], "pattern"),
        ({"source": "driftloop.alarms"}, "pattern.source"),
        ({"detail": {"state": {"value": "ALARM"}}}, "pattern.detail.state.value"),
        ({"source": []}, "pattern.source"),
        ({"source": [["nested"]]}, "pattern.source[0]"),
        ({"source": [{"contains": "x"}]}, "unknown matcher 'contains'"),
        ({"source": [{"prefix": "a", "exists": True}]}, "pattern.source[0]"),
        ({"source": [{"prefix": 3}]}, "pattern.source[0].prefix"),
        ({"source": [{"exists": "yes"}]}, "pattern.source[0].exists"),
        ({"source": [{"anything-but": {"suffix": ["x", "y"]}}]}, "anything-but.suffix"),
        ({"source": [{"anything-but": {"exists": True}}]}, "anything-but"),
        ({"source": [{"anything-but": []}]}, "anything-but"),
        ({"source": [{"anything-but": [{"prefix": "x"}]}]}, "anything-but"),
        ({"v": [{"numeric": [">"]}]}, "pattern.v[0].numeric"),
        ({"v": [{"numeric": "> 5"}]}, "pattern.v[0].numeric"),
        ({"v": [{"numeric": ["!=", 5]}]}, "unknown operator '!='"),
        ({"v": [{"numeric": [">", "5"]}]}, "needs a number"),
        ({"v": [{"numeric": [">", True]}]}, "needs a number"),
        ({"v": [{"numeric": [">", 5, "<", 5]}]}, "empty range"),
        ({"v": [{"numeric": [">", 1, ">=", 2]}]}, "one lower bound"),
        ({"v": [{"numeric": ["=", 1, "<", 2]}]}, "'='"),
    ],
)
def test_malformed_patterns_name_the_part(pattern: Any, names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_pattern(pattern)
    assert names in caught.value.message
