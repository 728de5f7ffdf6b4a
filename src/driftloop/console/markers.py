"""The events marked on an endpoint's time axis: drift verdicts, alarm changes, deployment
steps. Each kind's events of one endpoint are picked out and timed once per event snapshot
(and kept until an event of that kind arrives), so a page finds its window by bisection
instead of walking a long stream."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import datetime
from typing import Any

from driftloop.console.svg import Marker
from driftloop.console.view import ALARM_CHANGE, DEPLOYMENT_STEP, MONITORING_DONE, EventSnapshot

MARKERS = 60  # per kind of event: the newest in the window
KINDS = (MONITORING_DONE, ALARM_CHANGE, DEPLOYMENT_STEP)
Timeline = tuple[list[float], list[dict[str, Any]]]


def markers(
    snapshot: EventSnapshot, endpoint: str, alarms: set[str], start: float, end: float
) -> list[Marker]:
    """Events of ``endpoint`` (and changes of its ``alarms``) from ``start`` to ``end``,
    oldest first, at most :data:`MARKERS` of each kind (the newest)."""
    out: list[Marker] = []
    for kind in KINDS:
        key = f"markers {kind} {endpoint} {sorted(alarms) if kind == ALARM_CHANGE else ''}"
        times, events = snapshot.derived(key, [kind], _timeline(kind, endpoint, alarms))
        high = bisect_right(times, end)
        low = max(bisect_left(times, start), high - MARKERS)
        out += [_marker(kind, events[i].get("detail") or {}, times[i]) for i in range(low, high)]
    return sorted(out, key=lambda m: m.at)


def epoch(moment: object) -> float | None:
    """An event's ISO time as seconds since the epoch (None when it is not one)."""
    if not isinstance(moment, str):
        return None
    try:
        return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _timeline(kind: str, endpoint: str, alarms: set[str]) -> Callable[[EventSnapshot], Timeline]:
    def pick(snapshot: EventSnapshot) -> Timeline:
        timed = []
        for event in snapshot.of_type(kind):
            detail = event.get("detail") or {}
            if kind == ALARM_CHANGE:
                if detail.get("alarmName") not in alarms:
                    continue
            elif detail.get("endpoint") != endpoint:
                continue
            at = epoch(event.get("time"))
            if at is not None:
                timed.append((at, event))
        timed.sort(key=lambda pair: pair[0])  # the log is in order; writers' clocks may not be
        return [at for at, _ in timed], [event for _, event in timed]

    return pick


def _marker(kind: str, detail: dict[str, Any], at: float) -> Marker:
    if kind == ALARM_CHANGE:
        state = (detail.get("state") or {}).get("value", "?")
        alarm = detail.get("alarmName")
        return Marker(at, f"alarm {alarm} -> {state}", "bad" if state == "ALARM" else "good")
    if kind == MONITORING_DONE:
        drifted = detail.get("drifted_columns") or []
        if detail.get("status") != "CompletedWithViolations":
            return Marker(at, f"monitoring {detail.get('status')}", "good")
        return Marker(
            at,
            "drift: " + (", ".join(drifted) or f"{detail.get('violations')} violation(s)"),
            "bad",
        )
    step = detail.get("step", "?")
    tone = "bad" if step == "rolled_back" else "good" if step == "completed" else "busy"
    return Marker(at, f"deploy v{detail.get('version')}: {step}", tone)
