"""Server-rendered SVG charts: line charts with event markers and a threshold, sparklines.

Hovering a point or a marker shows its value or event (SVG ``<title>``), so the charts need no
script at all.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from driftloop.console.html import esc

Point = tuple[float, float | None]
PALETTE = ("#2563eb", "#16a34a", "#db2777", "#ea580c", "#7c3aed", "#0891b2")
_MARK_COLOURS = {"bad": "#dc2626", "good": "#16a34a", "info": "#6b7280", "busy": "#d97706"}


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[Point]


@dataclass(frozen=True)
class Marker:
    """An event on the time axis."""

    at: float
    label: str
    tone: str = "info"


@dataclass(frozen=True)
class Chart:
    title: str
    series: Sequence[Series]
    start: float
    end: float
    unit: str = ""
    markers: Sequence[Marker] = field(default_factory=tuple)
    threshold: float | None = None
    width: int = 640
    height: int = 170


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _clock(moment: float, day: bool = False) -> str:
    """The time of day (UTC), with the date when ``day`` (charts over a day or more)."""
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%d %b %H:%M" if day else "%H:%M")


def line_chart(chart: Chart) -> str:
    """One chart; an empty one says there is no data in the window."""
    left, right, top, bottom = 48, 10, 22, 22
    w, h = chart.width, chart.height
    plot_w, plot_h = w - left - right, h - top - bottom
    values = [v for s in chart.series for _, v in s.points if v is not None]
    if chart.threshold is not None:
        values.append(chart.threshold)
    high = max(values) if values else 1.0
    high = high * 1.1 if high > 0 else 1.0
    span = max(chart.end - chart.start, 1.0)
    days = span >= 86400 or time.time() - chart.end >= 86400

    def x(t: float) -> float:
        return left + (t - chart.start) / span * plot_w

    def y(v: float) -> float:
        return top + plot_h - (v / high) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="{esc(chart.title)}">',
        f'<text x="{left}" y="14" class="ct">{esc(chart.title)}'
        f"{' (' + esc(chart.unit) + ')' if chart.unit else ''}</text>",
    ]
    for frac in (0.0, 0.5, 1.0):
        gy = top + plot_h - frac * plot_h
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{gy:.1f}" y2="{gy:.1f}" class="g"/>')
        parts.append(f'<text x="{left - 4}" y="{gy + 4:.1f}" class="yl">{_fmt(frac * high)}</text>')
    for frac in (0.0, 0.5, 1.0):
        t = chart.start + frac * span
        anchor = ("start", "middle", "end")[int(frac * 2)]
        parts.append(
            f'<text x="{x(t):.1f}" y="{h - 6}" class="xl" text-anchor="{anchor}">'
            f"{_clock(t, days)}</text>"
        )
    if chart.threshold is not None:
        ty = y(chart.threshold)
        parts.append(
            f'<line x1="{left}" x2="{w - right}" y1="{ty:.1f}" y2="{ty:.1f}" class="th">'
            f"<title>threshold {_fmt(chart.threshold)}</title></line>"
        )
    for marker in chart.markers:
        if chart.start <= marker.at <= chart.end:
            mx, colour = x(marker.at), _MARK_COLOURS.get(marker.tone, "#6b7280")
            parts.append(
                f'<g class="mk"><line x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + plot_h}" '
                f'stroke="{colour}"/><circle cx="{mx:.1f}" cy="{top}" r="4" fill="{colour}"/>'
                f"<title>{esc(_clock(marker.at, days))} {esc(marker.label)}</title></g>"
            )
    for index, series in enumerate(chart.series):
        colour = PALETTE[index % len(PALETTE)]
        parts.extend(_path(series, colour, x, y))
    if not values or not any(v is not None for s in chart.series for _, v in s.points):
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h / 2:.1f}" class="empty" '
            'text-anchor="middle">no data in this window</text>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="lg"><i style="background:{colour}"></i>{esc(s.name)}</span>'
        for s, colour in zip(chart.series, _colours(len(chart.series)), strict=True)
    )
    return f'<figure class="fig">{"".join(parts)}<figcaption>{legend}</figcaption></figure>'


def _colours(count: int) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(count)]


def _path(series: Series, colour: str, x: object, y: object) -> list[str]:
    assert callable(x) and callable(y)
    runs: list[list[tuple[float, float]]] = [[]]
    for t, v in series.points:
        if v is None or math.isnan(v):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((x(t), y(v)))
    out = []
    for run in runs:
        if len(run) == 1:
            px, py = run[0]
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.5" fill="{colour}"/>')
        elif run:
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                f'stroke-width="1.6"><title>{esc(series.name)}</title></polyline>'
            )
    return out


def sparkline(values: Sequence[float | None], *, label: str, width: int = 120) -> str:
    """A small line without axes; the last value is named in its tooltip."""
    height = 26
    known = [v for v in values if v is not None]
    if not known:
        return '<span class="spark-empty">no data</span>'
    high = max(known) or 1.0
    step = width / max(len(values) - 1, 1)
    coords = " ".join(
        f"{i * step:.1f},{height - 2 - (v / high) * (height - 4):.1f}"
        for i, v in enumerate(values)
        if v is not None
    )
    last = known[-1]
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<polyline points="{coords}" fill="none" stroke="{PALETTE[0]}" stroke-width="1.4"/>'
        f"<title>{esc(label)}: last {_fmt(last)}, max {_fmt(max(known))}</title></svg>"
    )
