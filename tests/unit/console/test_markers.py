"""Events marked on an endpoint's time axis: its own drift verdicts, deployment steps and the
changes of its alarms, inside the window, at most the newest 60 of each kind."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from driftloop.console.markers import MARKERS, markers
from driftloop.console.view import ALARM_CHANGE, DEPLOYMENT_STEP, MONITORING_DONE, EventSnapshot

T0 = 1_800_000_000


def _at(second: int) -> str:
    return datetime.fromtimestamp(T0 + second, tz=UTC).isoformat().replace("+00:00", "Z")


def _event(kind: str, second: int, **detail: Any) -> dict[str, Any]:
    return {"detail-type": kind, "time": _at(second), "detail": detail}


def test_only_this_endpoints_events_inside_the_window_are_marked() -> None:
    snapshot = EventSnapshot(
        [
            _event(MONITORING_DONE, 5, endpoint="churn", status="Completed"),
            _event(DEPLOYMENT_STEP, 20, endpoint="churn", step="completed", version=2),
            _event(DEPLOYMENT_STEP, 21, endpoint="other", step="completed", version=9),
            _event(ALARM_CHANGE, 30, alarmName="churn-latency", state={"value": "ALARM"}),
            _event(ALARM_CHANGE, 31, alarmName="other-latency", state={"value": "ALARM"}),
            _event(
                MONITORING_DONE,
                40,
                endpoint="churn",
                status="CompletedWithViolations",
                drifted_columns=["tenure"],
            ),
            _event(MONITORING_DONE, 500, endpoint="churn", status="Completed"),
        ]
    )
    found = markers(snapshot, "churn", {"churn-latency"}, T0 + 10, T0 + 100)
    assert [(m.at - T0, m.label, m.tone) for m in found] == [
        (20, "deploy v2: completed", "good"),
        (30, "alarm churn-latency -> ALARM", "bad"),
        (40, "drift: tenure", "bad"),
    ]


def test_at_most_the_newest_markers_of_a_kind() -> None:
    steps = [
        _event(DEPLOYMENT_STEP, s, endpoint="churn", step="canary", version=s) for s in range(200)
    ]
    found = markers(EventSnapshot(steps), "churn", set(), T0, T0 + 1000)
    assert len(found) == MARKERS
    assert found[0].at == T0 + 200 - MARKERS and found[-1].at == T0 + 199
