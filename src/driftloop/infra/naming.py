"""Identifiers of the declared resources: one key per resource, written in PascalCase as the
CloudFormation logical ID and in snake_case as the Terraform name, so the two renderings of a
resource can be told apart only by their case."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def words(name: str) -> list[str]:
    """The words of ``name``: split at anything but letters and digits, and where the case
    changes (``HighLatencyAlarm`` -> High, Latency, Alarm; ``churn-5xx`` -> churn, 5, xx)."""
    return _WORD.findall(name)


def snake(key: str) -> str:
    """The Terraform name of the resource ``key``."""
    return "_".join(word.lower() for word in words(key))


class Keys:
    """Hands out unique PascalCase keys: a name's words plus the kind of resource, unless the
    name already ends with it (``HighLatencyAlarm`` stays, ``ops`` becomes ``OpsTopic``)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def __call__(self, name: str, kind: str = "") -> str:
        parts = [word[:1].upper() + word[1:] for word in words(name)]
        if kind and (not parts or parts[-1].lower() != kind.lower()):
            parts.append(kind)
        if not parts or not parts[0][:1].isalpha():
            parts.insert(0, kind or "R")
        key = "".join(parts)
        candidate, number = key, 1
        while candidate.lower() in self.taken:
            number += 1
            candidate = f"{key}{number}"
        self.taken.add(candidate.lower())
        return candidate
