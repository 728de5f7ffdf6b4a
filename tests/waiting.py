"""Waiting in tests for something observable, instead of sleeping a fixed time and hoping."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout_s: float,
    *,
    interval_s: float = 0.1,
    what: str = "the condition",
) -> T:
    """Poll ``predicate()`` every ``interval_s`` until it returns a truthy value, and return it.

    It is called at least once, and once more when ``timeout_s`` has passed; if it never
    returned a truthy value, the test fails with an AssertionError naming ``what`` (say what is
    awaited: "the worker applying revision 3"). An exception raised by ``predicate`` (a process
    that died, say) propagates at once.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(min(interval_s, left))
