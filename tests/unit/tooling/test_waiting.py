"""The tests' wait_until helper."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.waiting import wait_until


def test_returns_the_first_truthy_value() -> None:
    calls = itertools.count(1)
    assert wait_until(lambda: [n] if (n := next(calls)) >= 3 else [], 5, interval_s=0.01) == [3]


def test_a_true_condition_returns_at_once() -> None:
    started = time.monotonic()
    assert wait_until(lambda: "ready", 5, interval_s=1) == "ready"
    assert time.monotonic() - started < 0.5


def test_times_out_naming_what_it_waited_for() -> None:
    calls = itertools.count(1)
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"timed out after 0\.2 s waiting for the answer"):
        wait_until(lambda: next(calls) and None, 0.2, interval_s=0.05, what="the answer")
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.5
    assert next(calls) >= 4  # polled along the way, and once more at the deadline


def test_an_error_in_the_predicate_propagates() -> None:
    def broken() -> bool:
        raise RuntimeError("the process died")

    with pytest.raises(RuntimeError, match="the process died"):
        wait_until(broken, 5)
