"""The local event bus: the workspace's append-only event log, delivered by the agent."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from driftloop.events import delivery_db
from driftloop.events.base import EventBus, EventEntry, RuleStore
from driftloop.events.delivery import Deliverer, DeliveryReport
from driftloop.events.handlers import Handler
from driftloop.events.log import LogLine, append, event_log, new_event, read_events
from driftloop.workspace import Workspace


class LogEventBus(EventBus):
    """Events in ``<workspace>/events.jsonl``; delivery state in ``delivery.db``."""

    def __init__(
        self,
        workspace: Workspace,
        rules: RuleStore,
        *,
        max_attempts: int = 3,
        backoff_s: float = 1.0,
    ) -> None:
        self.workspace = workspace
        self.rules = rules
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s

    def put_events(self, entries: Sequence[EventEntry]) -> list[dict[str, Any]]:
        events = [new_event(e.source, e.detail_type, e.detail) for e in entries]
        if events:
            append(event_log(self.workspace), events)
        return events

    def read_events(self, problems: list[str] | None = None) -> Iterator[dict[str, Any]]:
        corrupt: list[LogLine] = []
        for event in read_events(self.workspace, corrupt):
            if problems is not None:
                problems.extend(line.describe() for line in corrupt)
            corrupt.clear()
            yield event
        if problems is not None:
            problems.extend(line.describe() for line in corrupt)

    def deliver_pending(self, handlers: Mapping[str, Handler]) -> DeliveryReport:
        deliverer = Deliverer(
            self.workspace,
            self.rules,
            dict(handlers),
            max_attempts=self.max_attempts,
            backoff_s=self.backoff_s,
        )
        return deliverer.deliver_pending()

    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        return Deliverer(self.workspace, self.rules, {}).deliveries(limit)

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        return delivery_db.dead_letters(self.workspace.delivery_db, limit)

    def retries(self, limit: int = 100) -> list[dict[str, Any]]:
        return delivery_db.retries(self.workspace.delivery_db, limit)
