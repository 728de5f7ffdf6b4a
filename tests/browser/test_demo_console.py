"""``driftloop demo --keep-serving`` leaves its console running next to its endpoint, its
health check pointed at that endpoint, and the console stops when the endpoint is stopped."""

from __future__ import annotations

import subprocess
import urllib.request

import pytest

from driftloop.demo import DemoReport

pytestmark = pytest.mark.slow


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read().decode()


def test_the_kept_demo_serves_its_console_and_stopping_the_endpoint_stops_it(
    kept: DemoReport,
) -> None:
    assert kept.console_url and kept.console_pid and kept.endpoint_url and kept.endpoint_pid
    assert any(step == "console" and kept.console_url in said for step, said, _ in kept.rows)
    status, page = _get(f"{kept.console_url}/")
    assert status == 200 and "churn" in page
    assert ">up<" in page  # the endpoint's health, asked at the demo's endpoint
    endpoint, console = kept.serving
    endpoint.stop()
    try:
        console.process.wait(20)
    except subprocess.TimeoutExpired:
        raise AssertionError("the console outlived the demo's endpoint") from None
