"""The endpoint page's "auto" window covers the traffic that exists: from the first
datapoint to the last, ending now while traffic is recent, between 15 minutes and 7 days."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftloop.backends.catalog import Backends
from driftloop.config import load_settings
from driftloop.console import endpoint, span
from driftloop.console.context import Ctx
from driftloop.console.view import LoopView
from driftloop.metrics.base import Datapoint
from driftloop.serving.endpoint_config import EndpointConfig, Variant

NOW = 1_800_000_000.0
HOUR, DAY = 3600, 86400


@pytest.mark.parametrize(
    ("first", "last", "live"),
    [
        (NOW - 150, NOW - 5, True),  # the demo's two and a half minutes
        (NOW - 30 * 60, NOW - 20, True),  # half an hour of live traffic
        (NOW - 20 * HOUR, NOW - 60, True),  # most of a day
        (NOW - 3 * DAY - 2 * HOUR, NOW - 3 * DAY, False),  # two hours, three days ago
        (NOW - 2 * DAY, NOW - 2 * DAY + 30, False),  # a single minute, two days ago
    ],
)
def test_the_window_covers_the_first_and_last_datapoint(
    first: float, last: float, live: bool
) -> None:
    window = span.fitted((first, last), now=NOW)
    assert window.name == "auto"
    assert window.start <= first and last + 10 <= window.end
    assert (window.end >= NOW) is live
    assert window.end - window.start >= span.MIN_SPAN
    assert (window.end - window.start) / window.period <= 102  # about 100 points
    if not live:  # a quiet endpoint's days are shown, not the empty time since
        assert window.end - last <= max(window.period, 10) + 10
    shown = max(last + 10, NOW if live else 0) - first  # the data and the time since
    assert window.end - window.start <= max(shown * 1.06, span.MIN_SPAN) + 2 * window.period


def test_a_long_history_is_capped_at_seven_days_ending_with_the_data() -> None:
    window = span.fitted((NOW - 30 * DAY, NOW - 5), now=NOW)
    assert window.end >= NOW
    assert span.MAX_SPAN <= window.end - window.start <= span.MAX_SPAN + window.period


def test_no_traffic_is_the_last_fifteen_minutes() -> None:
    window = span.fitted(None, now=NOW)
    assert window.end >= NOW and window.end - window.start == 900 and window.name == "auto"


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[tuple[LoopView, tuple[float, float]]]:
    """Endpoint ``churn`` that served two variants for two hours, ending three days ago."""
    settings = load_settings(home=tmp_path / ".driftloop")
    stores = Backends.from_settings(settings)
    variants = (Variant(name="A", model="1", weight=1), Variant(name="B", model="1", weight=1))
    stores.endpoints.save(EndpointConfig(name="churn", model_name="m", variants=variants))
    end = int(time.time() - 3 * DAY) // 10 * 10
    points = [
        Datapoint(
            "AWS/SageMaker",
            "Invocations",
            {"EndpointName": "churn", "VariantName": v},
            t,
            "None",
            5.0,
            5.0,
            1.0,
            1.0,
        )
        for v in ("A", "B")
        for t in range(
            end - 2 * HOUR if v == "A" else end - HOUR, end + (10 if v == "B" else 0), 10
        )
    ]
    stores.metrics.put_metric_data(points)
    view = LoopView(settings)
    yield view, (end - 2 * HOUR, end)
    view.close()


def test_the_extent_is_read_from_the_metric_store(
    quiet: tuple[LoopView, tuple[float, float]],
) -> None:
    view, (first, last) = quiet
    assert span.extent(view, "churn", ["A", "B"]) == (first, last)
    assert span.extent(view, "churn", ["A"]) == (first, last - 10)
    assert span.extent(view, "nope", ["A"]) is None


def test_the_endpoint_page_shows_a_quiet_endpoints_traffic_by_default(
    quiet: tuple[LoopView, tuple[float, float]],
) -> None:
    view = quiet[0]
    page = endpoint.render(Ctx(view, path={"name": "churn"}))
    assert 'class="on" href="/endpoints/churn?range=auto"' in page.body
    assert "<polyline" in page.body  # the two hours are drawn, not an empty last hour
    empty = endpoint.render(Ctx(view, path={"name": "churn"}, query={"range": "1h"}))
    assert "<polyline" not in empty.body
