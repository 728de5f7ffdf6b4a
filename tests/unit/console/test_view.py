"""The event snapshot: grouped by type, extended by appended events without regrouping the
whole stream, and page summaries kept until an event of their kinds arrives."""

from __future__ import annotations

from typing import Any

from driftloop.console.view import EventSnapshot


def _event(kind: str, n: int) -> dict[str, Any]:
    return {"id": str(n), "detail-type": kind, "detail": {"n": n}}


def test_an_extended_snapshot_groups_as_a_fresh_read_would() -> None:
    old = EventSnapshot([_event("A", 1), _event("B", 2)])
    old.by_type  # noqa: B018  (grouped, as the refresh does)
    grown = old.extended([_event("B", 3), _event("C", 4)], ["line 9: not JSON"])
    fresh = EventSnapshot(grown.events)
    assert grown.by_type == fresh.by_type
    assert [e["id"] for e in grown.of_type("B")] == ["2", "3"]
    assert grown.problems == ["line 9: not JSON"]
    assert old.of_type("B") == [_event("B", 2)]  # the old snapshot is unchanged
    assert grown.by_type["A"] is old.by_type["A"]  # a kind that did not grow is shared


def test_a_summary_is_kept_until_an_event_of_its_kinds_arrives() -> None:
    computed: list[int] = []

    def count_b(snapshot: EventSnapshot) -> int:
        computed.append(1)
        return len(snapshot.of_type("B"))

    first = EventSnapshot([_event("B", 1)])
    assert first.derived("b", ["B"], count_b) == 1
    assert first.derived("b", ["B"], count_b) == 1
    other = first.extended([_event("A", 2)], [])
    assert other.derived("b", ["B"], count_b) == 1
    assert len(computed) == 1  # an event of another kind kept it
    more = other.extended([_event("B", 3)], [])
    assert more.derived("b", ["B"], count_b) == 2
    assert len(computed) == 2
