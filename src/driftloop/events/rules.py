"""Rules route events to targets, EventBridge-style; kept in ``<workspace>/rules.json``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from driftloop.errors import ConfigError, NotFoundError, first_problem
from driftloop.events.patterns import validate_pattern
from driftloop.workspace import Workspace, atomic_write_bytes

RULES_FILE = "rules.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class NotifyTarget(_Model):
    type: Literal["notify"] = "notify"
    topic: str = Field(min_length=1)
    """Notification topic to publish the event to."""


class CommandTarget(_Model):
    type: Literal["command"] = "command"
    command: list[str] = Field(min_length=1)
    """Program and arguments; the event arrives as JSON on standard input."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Seconds before the command is stopped and the delivery counts as failed."""


class RetrainTarget(_Model):
    type: Literal["retrain"] = "retrain"


Target = Annotated[NotifyTarget | CommandTarget | RetrainTarget, Field(discriminator="type")]


class Rule(_Model):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    """Unique rule name (letters, digits, ``_``, ``.``, ``-``)."""
    event_pattern: dict[str, Any] = {}
    """EventBridge-style pattern; the empty pattern matches every event."""
    targets: list[Target] = []
    """Where matching events go, each delivered independently."""
    enabled: bool = True
    """Disabled rules match nothing."""

    @field_validator("event_pattern")
    @classmethod
    def _valid_pattern(cls, pattern: dict[str, Any]) -> dict[str, Any]:
        validate_pattern(pattern)
        return pattern


_RULES = TypeAdapter(list[Rule])


def parse_rule(data: Rule | dict[str, Any]) -> Rule:
    """A :class:`Rule` from a model or a plain object; :class:`ConfigError` when invalid."""
    if isinstance(data, Rule):
        data = data.model_dump()
    try:
        return Rule.model_validate(data)
    except ValidationError as exc:
        where, message = first_problem(exc)
        raise ConfigError(f"invalid rule: {where or 'rule'}: {message}") from exc


class RuleStore:
    """The workspace's rules, read on every call and rewritten atomically on every change."""

    def __init__(self, workspace: Workspace) -> None:
        self.path = workspace.root / RULES_FILE

    def list(self) -> list[Rule]:
        """Every rule, in the order they were first put."""
        if not self.path.is_file():
            return []
        try:
            return _RULES.validate_python(orjson.loads(self.path.read_bytes())["rules"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
            raise ConfigError(f"{self.path.name} is unreadable: {exc}") from exc

    def get(self, name: str) -> Rule:
        """The rule called ``name``; :class:`NotFoundError` if there is none."""
        for rule in self.list():
            if rule.name == name:
                return rule
        raise NotFoundError(f"no rule named {name!r}", details={"rule": name})

    def put(self, rule: Rule | dict[str, Any]) -> Rule:
        """Add ``rule`` or replace the rule of the same name (keeping its place)."""
        parsed = parse_rule(rule)
        rules = self.list()
        names = [existing.name for existing in rules]
        if parsed.name in names:
            rules[names.index(parsed.name)] = parsed
        else:
            rules.append(parsed)
        self._write(rules)
        return parsed

    def delete(self, name: str) -> None:
        """Remove the rule called ``name``; :class:`NotFoundError` if there is none."""
        self.get(name)
        self._write([rule for rule in self.list() if rule.name != name])

    def _write(self, rules: list[Rule]) -> None:
        payload = {"rules": [rule.model_dump(mode="json") for rule in rules]}
        atomic_write_bytes(self.path, orjson.dumps(payload, option=orjson.OPT_INDENT_2))
