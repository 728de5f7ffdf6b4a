"""Broken states are a message on the page, never a stack trace or a 500: an endpoint that
is down, a metric store that cannot be read, an event stream with lines that are not events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from driftloop.backends.catalog import Backends
from driftloop.config import load_settings
from driftloop.console.app import create_app
from driftloop.console.view import LoopView
from driftloop.demo.endpoint import free_port
from driftloop.events.log import event_log
from driftloop.serving.endpoint_config import EndpointConfig, Variant


@pytest.fixture
def loop_view(tmp_path: Path) -> Iterator[LoopView]:
    """A workspace with endpoint ``churn`` and nothing else."""
    settings = load_settings(home=tmp_path / ".driftloop")
    variant = Variant(name="AllTraffic", model="champion")
    Backends.from_settings(settings).endpoints.save(
        EndpointConfig(name="churn", model_name="churn-model", variants=(variant,))
    )
    found = LoopView(settings)
    yield found
    found.close()


def test_an_endpoint_that_is_down_is_shown_down(loop_view: LoopView) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with TestClient(create_app(loop_view, endpoint_url=nowhere, warm=False)) as client:
        page = client.get("/")
    assert page.status_code == 200
    assert ">down<" in page.text and f"nothing answers at {nowhere}" in page.text
    assert "no traffic yet" in page.text


def test_an_unreadable_metric_store_is_a_message(loop_view: LoopView) -> None:
    loop_view.settings.workspace.metrics_db.write_bytes(b"this is not a database" * 100)
    with TestClient(create_app(loop_view, warm=False), raise_server_exceptions=False) as client:
        endpoint = client.get("/endpoints/churn")
        overview = client.get("/")
    assert endpoint.status_code == 200 and overview.status_code == 200
    assert "the metric store could not be read" in endpoint.text
    assert "endpoint churn could not be read" in overview.text
    assert "Traceback" not in endpoint.text + overview.text


def test_lines_of_the_event_stream_that_are_not_events_are_named(loop_view: LoopView) -> None:
    event_log(loop_view.settings.workspace).write_text('{"broken": \nnot json at all\n')
    with TestClient(create_app(loop_view, warm=False)) as client:
        page = client.get("/alarms")
    assert page.status_code == 200
    assert "line(s) of the event stream are not events" in page.text
