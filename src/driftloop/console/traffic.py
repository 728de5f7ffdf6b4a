"""Endpoint metrics from the metric store: windows, per-variant series, health."""

from __future__ import annotations

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
PERIODS = (10, 20, 40, 80, 120, 240, 480, 960, 1920, 3360, 6720)
"""Chart periods in seconds: the named ranges get 90 points from these, and a fitted window
that lands on one of theirs shares its remembered periods."""
POINTS = 100
Reads = dict[tuple[str, str, int], tuple[int, list[Datapoint]]]
"""Datapoints one page has read: (variant, metric, until) -> (since, datapoints)."""


def period_for(span: float) -> int:
    """The shortest period of :data:`PERIODS` that draws ``span`` in at most 100 points."""
    return next((p for p in PERIODS if span / p <= POINTS), PERIODS[-1])


@dataclass(frozen=True)
class Window:
    start: int
    end: int
    period: int
    name: str

    @classmethod
    def of(cls, name: str | None, now: float | None = None) -> Window:
        """The window called ``name`` (15m, 1h, 6h, 1d, 7d; else 1h) ending now, in 90
        periods of 10 s to 112 minutes."""
        name = name if name in RANGES else DEFAULT_RANGE
        span = RANGES[name]
        period = period_for(span)
        end = int(now if now is not None else time.time())
        end = -(-end // period) * period
        return cls(end - span, end, period, name)


def variants(view: LoopView, endpoint: str) -> list[str]:
    """Variants with traffic datapoints for ``endpoint``, by name."""
    dims = view.stores.metrics.list_dimensions(NAMESPACE, "Invocations")
    return sorted(
        {d["VariantName"] for d in dims if d.get("EndpointName") == endpoint and "VariantName" in d}
    )


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
    reads: Reads | None = None,
) -> list[tuple[float, float | None]]:
    """One value per period of ``window`` for the variants ``names`` together; settled periods
    are remembered, so a refresh reads only the datapoints of the newest periods. Datapoints
    read are kept in ``reads`` when given, so the series of one page read each variant's
    metric once."""
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
            for point in _read(view, endpoint, variant, metric, since, window.end, reads)
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


def _read(
    view: LoopView,
    endpoint: str,
    variant: str,
    metric: str,
    since: int,
    until: int,
    reads: Reads | None,
) -> list[Datapoint]:
    """One variant's datapoints from ``since`` to ``until``, from ``reads`` when it holds them
    from an earlier ``since``."""
    held = reads.get((variant, metric, until)) if reads is not None else None
    if held is not None and held[0] <= since:
        return [p for p in held[1] if p.timestamp >= since]
    found = view.stores.metrics.get_metric_data(
        NAMESPACE,
        metric,
        {"EndpointName": endpoint, "VariantName": variant},
        since=since,
        until=until,
    )
    if reads is not None:
        reads[(variant, metric, until)] = (since, found)
    return found


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
        with exc:  # its connection closes now, not when the error is collected
            return False, f"/ping answered {exc.code} at {url} (models not loaded)"
    except (urllib.error.URLError, OSError):
        return False, f"nothing answers at {url}"
