"""Retries of a failed target are scheduled, not slept on: a call (and the agent's tick) returns
at once, later calls make the retries that are due, and the last failure is dead-lettered."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from driftloop.agent import Agent
from driftloop.backends.local.rules import FileRuleStore
from driftloop.config import load_settings
from driftloop.events.delivery import Deliverer
from driftloop.workspace import Workspace
from tests.workspaces import emit


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def handler(calls: list[tuple[str, str]], down: set[str]) -> Any:
    def notify(target: Any, event: dict[str, Any]) -> None:
        calls.append((target.topic, event["id"]))
        if target.topic in down:
            raise RuntimeError(f"{target.topic} down")

    return notify


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "ws").ensure()
    targets = [{"type": "notify", "topic": "down"}, {"type": "notify", "topic": "ops"}]
    FileRuleStore(ws.rules_file).put({"name": "page", "targets": targets})
    return ws


def test_a_failing_target_is_retried_on_later_calls_then_dead_lettered(
    workspace: Workspace,
) -> None:
    calls: list[tuple[str, str]] = []
    clock = Clock()
    rules = FileRuleStore(workspace.rules_file)
    deliverer = Deliverer(
        workspace, rules, {"notify": handler(calls, {"down"})}, backoff_s=1.0, clock=clock
    )
    first = emit(workspace, "s", "t", {})

    started = time.monotonic()
    report = deliverer.deliver_pending()
    assert time.monotonic() - started < 0.5  # it slept 1 + 2 s before
    assert (report.events, report.delivered, report.scheduled, report.dead_lettered) == (1, 1, 1, 0)
    [waiting] = deliverer.retries()
    assert (waiting["event_id"], waiting["attempts"], waiting["next_at"]) == (first["id"], 1, 1001)
    assert "down down" in waiting["error"]

    clock.now += 0.5  # the backoff has not passed: nothing to do, and later events still go
    second = emit(workspace, "s", "t", {})
    report = deliverer.deliver_pending()
    assert (report.events, report.delivered, report.retries, report.scheduled) == (1, 1, 0, 1)

    clock.now += 0.5  # the first event's second attempt is due, after 1 s
    report = deliverer.deliver_pending()
    assert (report.retries, report.scheduled, report.dead_lettered) == (1, 1, 0)
    assert deliverer.retries()[-1]["next_at"] == 1003  # then 2 s

    clock.now += 10  # both due: the first fails a third time, the second a second time
    report = deliverer.deliver_pending()
    assert (report.retries, report.scheduled, report.dead_lettered) == (2, 1, 1)
    [dead] = deliverer.dead_letters()
    assert (dead["event_id"], dead["target"], dead["attempts"]) == (first["id"], 0, 3)
    assert dead["error"] == "RuntimeError: down down" and dead["event"] == first

    clock.now += 10
    assert deliverer.deliver_pending().dead_lettered == 1
    assert deliverer.retries() == [] and len(deliverer.dead_letters()) == 2
    assert calls.count(("down", first["id"])) == calls.count(("down", second["id"])) == 3
    assert calls.count(("ops", first["id"])) == calls.count(("ops", second["id"])) == 1

    clock.now += 100  # nothing is attempted again, and a restart repeats nothing
    again = Deliverer(workspace, rules, {"notify": handler(calls, set())}, clock=clock)
    assert again.deliver_pending() == type(report)()
    assert len(calls) == 8


def test_a_crash_during_a_retry_leaves_it_scheduled(workspace: Workspace) -> None:
    calls: list[tuple[str, str]] = []
    rules = FileRuleStore(workspace.rules_file)
    event = emit(workspace, "s", "t", {})
    Deliverer(workspace, rules, {"notify": handler(calls, {"down"})}, backoff_s=0).deliver_pending()

    def crash(target: Any, _: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Deliverer(workspace, rules, {"notify": crash}, backoff_s=0).deliver_pending()
    assert [row["attempts"] for row in Deliverer(workspace, rules, {}).retries()] == [1]
    report = Deliverer(workspace, rules, {"notify": handler(calls, set())}).deliver_pending()
    assert (report.retries, report.delivered) == (1, 1)
    delivered = Deliverer(workspace, rules, {}).deliveries()
    assert sorted((row["target"], row["attempts"]) for row in delivered) == [(0, 2), (1, 1)]
    assert calls == [("down", event["id"]), ("ops", event["id"]), ("down", event["id"])]


def test_the_agent_tick_does_not_wait_for_a_failing_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(home=tmp_path / "ws")
    ws = settings.workspace
    FileRuleStore(ws.rules_file).put(
        {"name": "page", "targets": [{"type": "notify", "topic": "no-such-topic"}]}
    )
    agent = Agent(settings)
    agent.tick(datetime.now(UTC))  # a first tick opens the stores
    emit(ws, "s", "t", {})

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # a backoff is scheduled, never waited
    agent.tick(datetime.now(UTC))
    assert slept == []
    [waiting] = agent.events.retries()
    assert waiting["attempts"] == 1 and "no-such-topic" in waiting["error"]


def test_a_retry_whose_stored_target_no_longer_reads_is_dead_lettered(
    workspace: Workspace,
) -> None:
    rules = FileRuleStore(workspace.rules_file)
    emit(workspace, "s", "t", {})
    Deliverer(workspace, rules, {"notify": handler([], {"down"})}, backoff_s=0).deliver_pending()
    with closing(sqlite3.connect(workspace.delivery_db)) as db, db:
        db.execute('UPDATE retries SET target_spec = \'{"type": "gone"}\'')
    report = Deliverer(workspace, rules, {"notify": handler([], set())}).deliver_pending()
    assert (report.retries, report.delivered) == (0, 0)
    [dead] = Deliverer(workspace, rules, {}).dead_letters()
    assert dead["attempts"] == 1 and dead["error"].startswith("stored target is not valid")
    assert Deliverer(workspace, rules, {}).retries() == []
