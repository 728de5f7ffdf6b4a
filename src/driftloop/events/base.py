"""The event contracts: the rule store (EventBridge's PutRule, ListRules, DescribeRule,
DeleteRule) and the event bus (PutEvents, plus reading and delivery).

:meth:`RuleStore.get` and :meth:`RuleStore.delete` raise
:class:`~driftloop.errors.NotFoundError` for a rule that does not exist.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from driftloop.events.rules import Rule

if TYPE_CHECKING:
    from driftloop.events.delivery import DeliveryReport
    from driftloop.events.handlers import Handler


class EventEntry(NamedTuple):
    """One event to put (PutEvents' ``Source``, ``DetailType`` and ``Detail``)."""

    source: str
    detail_type: str
    detail: dict[str, Any]


class RuleStore(ABC):
    """The rules that route events to targets."""

    @abstractmethod
    def list(self) -> list[Rule]:
        """Every rule, in the order they were first put."""

    @abstractmethod
    def get(self, name: str) -> Rule:
        """The rule called ``name``."""

    @abstractmethod
    def put(self, rule: Rule | dict[str, Any]) -> Rule:
        """Add ``rule`` (validated; :class:`~driftloop.errors.ConfigError` when invalid) or
        replace the rule of the same name, keeping its place."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the rule called ``name``."""


class EventBus(ABC):
    """Where events go (EventBridge's PutEvents) and how they reach the targets of the rules
    they match. Locally an append-only log that :meth:`deliver_pending` reads on; on AWS,
    EventBridge delivers by itself."""

    @abstractmethod
    def put_events(self, entries: Sequence[EventEntry]) -> list[dict[str, Any]]:
        """Put each entry as one event, stamped with a new ``id`` and the current ``time``;
        return the events in EventBridge's shape (``id``, ``time``, ``source``,
        ``detail-type``, ``detail``), in the order given."""

    def emit(self, source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
        """Put one event and return it."""
        [event] = self.put_events([EventEntry(source, detail_type, detail)])
        return event

    @abstractmethod
    def read_events(self, problems: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every event put so far, oldest first. What cannot be read as an event is skipped
        and described in ``problems`` when a list is given."""

    @abstractmethod
    def deliver_pending(self, handlers: Mapping[str, Handler]) -> DeliveryReport:
        """Deliver what is due to the targets of matching enabled rules, calling the handler
        of each target's type, and return the counts. At least once: a target is retried
        with backoff, then dead-lettered; no call waits for a backoff."""

    @abstractmethod
    def deliveries(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent successful deliveries, newest first."""

    @abstractmethod
    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Deliveries that failed every attempt (and anything unreadable), newest first."""

    @abstractmethod
    def retries(self, limit: int = 100) -> list[dict[str, Any]]:
        """Failed deliveries waiting for their next attempt, the soonest first."""
