"""Endpoint metrics from the metric store: windows, per-variant series, health."""

from __future__ import annotations

import math
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from driftloop.console.view import LoopView
from driftloop.metrics.base import Datapoint
from driftloop.metrics.statistics import period_values

NAMESPACE = "AWS/SageMaker"
RANGES = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "1d": 86400, "7d": 7 * 86400}
DEFAULT_RANGE = "1h"


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    period: int
    name: str

    @classmethod
    def of(cls, name: str | None, now: float | None = None) -> Window:
        """The window called ``name`` (15m, 1h, 6h, 1d, 7d; else 1h) ending now, with periods
        of at least 10 s and at most about 90 points."""
        name = name if name in RANGES else DEFAULT_RANGE
        span = RANGES[name]
        period = max(10, math.ceil(span / 90 / 10) * 10)
        end = int(now if now is not None else time.time())
        end = -(-end // period) * period
        return cls(end - span, end, period, name)


def fitted(first: float | None, now: float | None = None) -> Window:
    """A window from just before ``first`` (the oldest traffic of the last day) to now, at
    least 15 minutes long: the whole story on one axis."""
    end = time.time() if now is None else now
    span = 900.0 if first is None else min(max(end - first + 60, 900.0), 86400.0)
    period = max(10, math.ceil(span / 90 / 10) * 10)
    stop = -(-int(end) // period) * period
    return Window(stop - math.ceil(span / period) * period, stop, period, "auto")


def first_traffic(view: LoopView, endpoint: str, names: list[str]) -> float | None:
    """The oldest traffic bucket of the last day, if any (remembered for five minutes)."""
    key = ("first", endpoint, tuple(names))
    known = view.periods.get(key)
    if known is not None and time.time() - known[1] < 300:
        return known[0]  # type: ignore[no-any-return]
    oldest = _first(view, endpoint, names)
    view.periods[key] = (oldest, time.time())
    return oldest


def _first(view: LoopView, endpoint: str, names: list[str]) -> float | None:
    since = int(time.time()) - 86400
    oldest: float | None = None
    for variant in names:
        dims = {"EndpointName": endpoint, "VariantName": variant}
        found = view.stores.metrics.get_metric_data(NAMESPACE, "Invocations", dims, since=since)
        if found:
            oldest = min(oldest or float(found[0].timestamp), float(found[0].timestamp))
    return oldest


def variants(view: LoopView, endpoint: str) -> list[str]:
    """Variants with traffic datapoints for ``endpoint``, by name."""
    dims = view.stores.metrics.list_dimensions(NAMESPACE, "Invocations")
    return sorted(
        {d["VariantName"] for d in dims if d.get("EndpointName") == endpoint and "VariantName" in d}
    )


def points(
    view: LoopView, endpoint: str, variant: str, metric: str, window: Window
) -> list[Datapoint]:
    dims = {"EndpointName": endpoint, "VariantName": variant}
    return view.stores.metrics.get_metric_data(
        NAMESPACE, metric, dims, since=window.start, until=window.end
    )


def values(
    found: list[Datapoint], statistic: str, window: Window, scale: float = 1.0
) -> list[tuple[float, float | None]]:
    """One value per period of ``window`` (None where there is no datapoint)."""
    out = period_values(found, statistic, window.period, window.start, window.end)
    return [(t, None if v is None else v * scale) for t, v in out]


SETTLE_S = 60  # a period that ended this long ago has all its datapoints (worker flushes)
CACHED = 200_000


def series(
    view: LoopView,
    endpoint: str,
    names: list[str],
    metric: str,
    statistic: str,
    window: Window,
    scale: float = 1.0,
) -> list[tuple[float, float | None]]:
    """One value per period of ``window`` for the variants ``names`` together; settled periods
    are remembered, so a refresh reads only the datapoints of the newest periods."""
    key = (endpoint, tuple(names), metric, statistic, window.period)
    cache = view.periods
    starts = range(window.start, window.end, window.period)
    missing = [t for t in starts if (key, t) not in cache]
    fresh: dict[int, float | None] = {}
    if missing:
        since = missing[0]
        found = [
            point
            for variant in names
            for point in view.stores.metrics.get_metric_data(
                NAMESPACE,
                metric,
                {"EndpointName": endpoint, "VariantName": variant},
                since=since,
                until=window.end,
            )
        ]
        settled = time.time() - SETTLE_S
        if len(cache) > CACHED:
            cache.clear()
        for t, value in period_values(found, statistic, window.period, since, window.end):
            fresh[t] = value
            if t + window.period <= settled:
                cache[(key, t)] = value
    out = []
    for t in starts:
        value = fresh[t] if t in fresh else cache.get((key, t))
        out.append((float(t), None if value is None else value * scale))
    return out


def last_traffic(view: LoopView, endpoint: str, names: list[str]) -> float | None:
    """When ``endpoint`` last answered a request (start of the newest bucket) in the last
    week, looking back an hour, then a day, then the week."""
    now = int(time.time())
    for back in (3600, 86400, 7 * 86400):
        newest: float | None = None
        for variant in names:
            dims = {"EndpointName": endpoint, "VariantName": variant}
            found = view.stores.metrics.get_metric_data(
                NAMESPACE, "Invocations", dims, since=now - back
            )
            if found:
                newest = max(newest or 0.0, float(found[-1].timestamp))
        if newest is not None:
            return newest
    return None


def ping(url: str, timeout: float = 0.5) -> tuple[bool, str]:
    """Whether something answers ``GET {url}/ping`` with 200, and what was seen."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/ping", timeout=timeout) as answer:
            return answer.status == 200, f"/ping answered {answer.status} at {url}"
    except urllib.error.HTTPError as exc:
        return False, f"/ping answered {exc.code} at {url} (models not loaded)"
    except (urllib.error.URLError, OSError):
        return False, f"nothing answers at {url}"
