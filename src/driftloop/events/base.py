"""The rule store contract (EventBridge's PutRule, ListRules, DescribeRule, DeleteRule).

:meth:`RuleStore.get` and :meth:`RuleStore.delete` raise
:class:`~driftloop.errors.NotFoundError` for a rule that does not exist.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from driftloop.events.rules import Rule


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
