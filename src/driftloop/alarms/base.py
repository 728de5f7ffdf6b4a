"""The alarm service contract: definitions, their evaluation, current state and history.

:meth:`AlarmStore.evaluate` brings states up to date: locally it evaluates each alarm against
the metric store, records it and announces a change; CloudWatch evaluates alarms (and runs
their actions) by itself, so there it reads the states. Every method that names an alarm
raises :class:`~driftloop.errors.NotFoundError` when there is none of that name.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from driftloop.alarms.decision import State
from driftloop.alarms.definition import AlarmDefinition
from driftloop.alarms.evaluate import Evaluation

INITIAL_STATE: State = "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class StoredAlarm:
    """An alarm's definition with its current state."""

    definition: AlarmDefinition
    state: State
    reason: str
    updated: str

    @property
    def alarm_name(self) -> str:
        return self.definition.alarm_name


@dataclass(frozen=True)
class HistoryItem:
    """One state change of an alarm."""

    alarm_name: str
    time: str
    old: str
    new: str
    reason: str


class AlarmStore(ABC):
    """Alarms as CloudWatch keeps them (PutMetricAlarm, DescribeAlarms, DescribeAlarmHistory)."""

    @abstractmethod
    def put(self, alarm: AlarmDefinition) -> None:
        """Create or replace a definition; a new alarm starts INSUFFICIENT_DATA, an updated one
        keeps its state."""

    @abstractmethod
    def get(self, name: str) -> StoredAlarm:
        """One alarm with its state."""

    @abstractmethod
    def list(self) -> list[AlarmDefinition]:
        """Every alarm definition, by name."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove an alarm (its history stays)."""

    @abstractmethod
    def evaluate(self, now: datetime, names: Sequence[str] | None = None) -> dict[str, Evaluation]:
        """The state and reason of the named alarms (every alarm when None) as of ``now``.
        A change of state is recorded in the history, put on the event bus as a "CloudWatch
        Alarm State Change" event and sent to the alarm's actions for the new state. With
        ``names`` None, an alarm that cannot be evaluated is logged and left out."""

    @abstractmethod
    def set_state(self, name: str, evaluation: Evaluation) -> tuple[str, str] | None:
        """Record an evaluation; ``(old, new)`` when the state changed, else None."""

    @abstractmethod
    def history(self, name: str | None = None, limit: int = 100) -> builtins.list[HistoryItem]:
        """State changes, newest first, of one alarm or of all."""
