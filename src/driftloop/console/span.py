"""The endpoint page's "auto" window: from the endpoint's first traffic datapoint to its last.

The last datapoint is looked for back to the metric store's retention (an hour first, then a
day at a time), the first at most :data:`MAX_SPAN` before the last (a day at a time, oldest
first), so each look is one indexed read of at most a day. While traffic is recent the window
ends now and keeps moving; an endpoint that went quiet days ago shows the days it served.
"""

from __future__ import annotations

import math
import time

from driftloop.console.traffic import NAMESPACE, RANGES, Window, period_for
from driftloop.console.view import LoopView

MAX_SPAN = RANGES["7d"]
MIN_SPAN = 120
ROOM = 0.05
"""Room left before the first datapoint, as a share of the window."""
LIVE_S = 600
"""Traffic newer than this keeps the window's end at now."""
REMEMBER_S = 60
DAY = 86400


def fitted(extent: tuple[float, float] | None, now: float | None = None) -> Window:
    """The window over ``extent`` (first and last traffic bucket) with a little room before
    the first, ending now while traffic is recent, between 2 minutes and 7 days long, in at
    most about 100 periods (see :func:`~driftloop.console.traffic.period_for`); the last 15
    minutes when there is no traffic."""
    now = time.time() if now is None else now
    if extent is None:
        quiet = Window.of("15m", now)
        return Window(quiet.start, quiet.end, quiet.period, "auto")
    first, last = extent
    end = last + 10 if now - last >= LIVE_S else max(now, last + 10)  # a bucket is 10 s
    first -= ROOM * (end - first)
    span = min(max(end - first, MIN_SPAN), MAX_SPAN)
    period = period_for(span)
    stop = -(-int(end) // period) * period
    start = max(int(first) // period * period, stop - math.ceil(MAX_SPAN / period) * period)
    start = min(start, stop - math.ceil(MIN_SPAN / period) * period)
    return Window(start, stop, period, "auto")


def extent(view: LoopView, endpoint: str, names: list[str]) -> tuple[float, float] | None:
    """The first and last traffic bucket of ``endpoint``'s variants ``names`` (None when it
    has none), remembered for a minute."""
    key = ("extent", endpoint, tuple(names))
    known = view.periods.get(key)
    if known is not None and time.time() - known[1] < REMEMBER_S:
        return known[0]  # type: ignore[no-any-return]
    now = int(time.time())
    found = None
    last = _last(view, endpoint, names, now)
    if last is not None:
        found = (_first(view, endpoint, names, last), last)
    view.periods[key] = (found, time.time())
    return found


def _last(view: LoopView, endpoint: str, names: list[str], now: int) -> float | None:
    days = view.settings.agent.metric_retention_days
    edges = [now - 3600, *(now - day * DAY for day in range(1, days + 1))]
    until: int | None = None
    for since in edges:
        bounds = _bounds(view, endpoint, names, since, until)
        if bounds is not None:
            return bounds[1]
        until = since
    return None


def _first(view: LoopView, endpoint: str, names: list[str], last: float) -> float:
    since = int(last) - MAX_SPAN
    while since <= last:
        bounds = _bounds(view, endpoint, names, since, since + DAY)
        if bounds is not None:
            return bounds[0]
        since += DAY
    return last


def _bounds(
    view: LoopView, endpoint: str, names: list[str], since: int, until: int | None
) -> tuple[float, float] | None:
    """The oldest and newest traffic bucket in ``[since, until)`` over the variants."""
    stamps = []
    for variant in names:
        dims = {"EndpointName": endpoint, "VariantName": variant}
        found = view.stores.metrics.get_metric_data(
            NAMESPACE, "Invocations", dims, since=since, until=until
        )
        if found:
            stamps += [float(found[0].timestamp), float(found[-1].timestamp)]
    return (min(stamps), max(stamps)) if stamps else None
