"""At-least-once delivery of logged events to the targets of matching rules.

The deliverer reads the event log from a stored byte offset. Each (event, rule, target index)
is recorded in ``<workspace>/delivery.db`` only after its handler returned, and the offset moves
past an event only after each of its targets was delivered, dead-lettered or scheduled for a
retry, so a crash re-delivers what was not yet recorded and a restart never re-delivers what
was. A failed target is retried on a later call, after an exponential backoff, and parked in
the dead-letter table with its error once ``max_attempts`` attempts failed; no call waits for a
backoff, and other targets and later events carry on. A log line that is not an event is
logged with its byte offset, dead-lettered and passed over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from driftloop.errors import ConfigError, TargetFailed
from driftloop.events import delivery_db
from driftloop.events.base import RuleStore
from driftloop.events.delivery_db import DeliveryDb, Key
from driftloop.events.handlers import Handler, Publisher, default_handlers
from driftloop.events.log import LogLine, event_log, scan
from driftloop.events.patterns import matches
from driftloop.events.rules import Rule, Target
from driftloop.workspace import Workspace

__all__ = [
    "Deliverer",
    "DeliveryReport",
    "Handler",
    "Publisher",
    "TargetFailed",
    "default_handlers",
]

log = logging.getLogger("driftloop.events")


@dataclass
class DeliveryReport:
    """What one :meth:`Deliverer.deliver_pending` call did."""

    events: int = 0
    """Events read from the log."""
    delivered: int = 0
    """Targets that accepted an event."""
    dead_lettered: int = 0
    """Targets that failed their last attempt."""
    retries: int = 0
    """Attempts beyond the first."""
    scheduled: int = 0
    """Failed attempts whose retry waits for a later call."""
    corrupt: int = 0
    """Log lines that are not events (dead-lettered)."""


class Deliverer:
    """Delivers new events to rule targets through one handler per target type."""

    def __init__(
        self,
        workspace: Workspace,
        rules: RuleStore,
        handlers: dict[str, Handler],
        *,
        max_attempts: int = 3,
        backoff_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1")
        self.workspace = workspace
        self.rules = rules
        self.handlers = handlers
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.clock = clock
        self.path: Path = workspace.delivery_db

    def deliver_pending(self) -> DeliveryReport:
        """Make the retries that are due, then deliver every event appended since the last
        call, one attempt per target; return the counts."""
        report = DeliveryReport()
        rules = [rule for rule in self.rules.list() if rule.enabled]
        with DeliveryDb.open(self.path) as db:
            for retry in db.due(self.clock()):
                self._attempt(db, retry.key, retry.target, retry.event, retry.attempts + 1, report)
            for line in scan(event_log(self.workspace), db.cursor()):
                if line.event is None:
                    self._corrupt(db, line, report)
                else:
                    self._deliver_event(db, rules, line.event, report)
                db.move_cursor(line.end)
        return report

    def _deliver_event(
        self, db: DeliveryDb, rules: list[Rule], event: dict[str, Any], report: DeliveryReport
    ) -> None:
        """First attempts for every target of every matching rule not yet settled."""
        report.events += 1
        for rule in rules:
            if matches(rule.event_pattern, event):
                for index, target in enumerate(rule.targets):
                    key = (event["id"], rule.name, index)
                    if not db.settled(key):
                        self._attempt(db, key, target, event, 1, report)

    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent successful deliveries, newest first."""
        with DeliveryDb.open(self.path) as db:
            return db.rows("SELECT * FROM deliveries ORDER BY delivered_at DESC LIMIT ?", limit)

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Deliveries that failed every attempt, and log lines that are not events, newest
        first, with the error and the event (or what the line held)."""
        return delivery_db.dead_letters(self.path, limit)

    def retries(self, limit: int = 100) -> list[dict[str, Any]]:
        """Failed targets waiting for their next attempt, the soonest first."""
        return delivery_db.retries(self.path, limit)

    def _attempt(
        self,
        db: DeliveryDb,
        key: Key,
        target: Target,
        event: dict[str, Any],
        attempt: int,
        report: DeliveryReport,
    ) -> None:
        """Make attempt number ``attempt`` and record delivery, dead letter or next retry."""
        handler = self.handlers.get(target.type)
        if handler is None:
            error = f"no handler for target type {target.type!r}"
            db.dead_letter(key, target.type, 0, error, event)
            report.dead_lettered += 1
            return
        if attempt > 1:
            report.retries += 1
        try:
            handler(target, event)
        except Exception as exc:  # any handler failure is retried, then dead-lettered
            error = f"{type(exc).__name__}: {exc}"
        else:
            db.delivered(key, target.type, attempt)
            report.delivered += 1
            return
        if attempt >= self.max_attempts:
            db.dead_letter(key, target.type, attempt, error, event)
            report.dead_lettered += 1
            return
        next_at = self.clock() + self.backoff_s * 2 ** (attempt - 1)
        db.schedule(key, target, attempt, next_at, error, event)
        report.scheduled += 1

    @staticmethod
    def _corrupt(db: DeliveryDb, line: LogLine, report: DeliveryReport) -> None:
        """Dead-letter a log line that is not an event, keyed by its byte offset."""
        log.warning("dead-lettered %s", line.describe())
        try:
            read: object = orjson.loads(line.text)
        except orjson.JSONDecodeError:
            read = line.text.decode(errors="replace").rstrip("\n")
        key = (f"offset:{line.offset}", "", 0)
        db.dead_letter(key, "", 0, f"not an event: {line.describe()}", read)
        report.corrupt += 1
