"""The local rule store: ``rules.json`` in the workspace."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from driftloop.errors import ConfigError, NotFoundError, first_problem
from driftloop.events.base import RuleStore
from driftloop.events.rules import RULES, Rule, parse_rule
from driftloop.workspace import atomic_write_bytes


class FileRuleStore(RuleStore):
    """The workspace's rules in ``rules.json``, read on every call and rewritten atomically on
    every change."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def list(self) -> list[Rule]:
        if not self.path.is_file():
            return []
        try:
            return RULES.validate_python(orjson.loads(self.path.read_bytes())["rules"])
        except orjson.JSONDecodeError as exc:
            why = f"not JSON: {exc}"
        except (KeyError, TypeError):
            why = 'no "rules" list'
        except ValidationError as exc:
            where, message = first_problem(exc)
            why = f"rules.{where}: {message}"
        except ConfigError as exc:  # a name the name pattern refuses
            why = exc.message
        raise ConfigError(
            f"{self.path} is unreadable ({why}): fix it, or move it aside and put the rules again",
            details={"file": str(self.path)},
        )

    def get(self, name: str) -> Rule:
        for rule in self.list():
            if rule.name == name:
                return rule
        raise NotFoundError(f"no rule named {name!r}", details={"rule": name})

    def put(self, rule: Rule | dict[str, Any]) -> Rule:
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
        self.get(name)
        self._write([rule for rule in self.list() if rule.name != name])

    def _write(self, rules: builtins.list[Rule]) -> None:
        payload = {"rules": [rule.model_dump(mode="json") for rule in rules]}
        atomic_write_bytes(self.path, orjson.dumps(payload, option=orjson.OPT_INDENT_2))
