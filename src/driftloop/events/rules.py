"""Rules route events to targets, EventBridge-style: the rule and target shapes."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from driftloop.durations import PositiveDuration
from driftloop.errors import ConfigError, first_problem
from driftloop.events.patterns import validate_pattern
from driftloop.names import safe_name


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class NotifyTarget(_Model):
    type: Literal["notify"] = "notify"
    topic: str
    """Notification topic to publish the event to (a name :func:`~driftloop.names.safe_name`
    accepts)."""

    @field_validator("topic")
    @classmethod
    def _safe_topic(cls, topic: str) -> str:
        return safe_name(topic, "topic")


class CommandTarget(_Model):
    type: Literal["command"] = "command"
    command: list[str] = Field(min_length=1)
    """Program and arguments; the event arrives as JSON on standard input."""
    timeout: PositiveDuration = Field(
        default=timedelta(seconds=60), validation_alias=AliasChoices("timeout", "timeout_s")
    )
    """How long the command may run before it is stopped and the delivery counts as failed."""


class RetrainTarget(_Model):
    type: Literal["retrain"] = "retrain"


Target = Annotated[NotifyTarget | CommandTarget | RetrainTarget, Field(discriminator="type")]


class Rule(_Model):
    name: str
    """Unique rule name: 1 to 128 letters, digits, ``_``, ``.`` or ``-``, starting with a letter
    or digit (:func:`~driftloop.names.safe_name`)."""
    event_pattern: dict[str, Any] = {}
    """EventBridge-style pattern; the empty pattern matches every event."""
    targets: list[Target] = []
    """Where matching events go, each delivered independently."""
    enabled: bool = True
    """Disabled rules match nothing."""

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        return safe_name(name, "rule")

    @field_validator("event_pattern")
    @classmethod
    def _valid_pattern(cls, pattern: dict[str, Any]) -> dict[str, Any]:
        validate_pattern(pattern)
        return pattern


RULES = TypeAdapter(list[Rule])


def parse_rule(data: Rule | dict[str, Any]) -> Rule:
    """A :class:`Rule` from a model or a plain object; :class:`ConfigError` when invalid."""
    if isinstance(data, Rule):
        data = data.model_dump()
    try:
        return Rule.model_validate(data)
    except ValidationError as exc:
        where, message = first_problem(exc)
        raise ConfigError(f"invalid rule: {where or 'rule'}: {message}") from exc
