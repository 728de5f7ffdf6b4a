"""Matching events against validated EventBridge event patterns."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from driftloop.events.pattern_checks import is_number

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
}


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """True when ``event`` satisfies every key of ``pattern`` (assumed valid)."""
    return _match_object(pattern, event)


def _match_object(pattern: dict[str, Any], value: Any) -> bool:
    if isinstance(value, list):  # fields of one array element must match together
        return any(_match_object(pattern, element) for element in value)
    fields = value if isinstance(value, dict) else {}
    for key, expected in pattern.items():
        if key == "$or" and isinstance(expected, list):
            if not any(_match_object(alternative, fields) for alternative in expected):
                return False
        elif isinstance(expected, dict):
            if not _match_object(expected, fields.get(key, {})):
                return False
        elif not _match_leaf(expected, leaves(fields[key]) if key in fields else []):
            return False
    return True


def leaves(value: Any) -> list[Any]:
    """The leaf values of a field: itself if a scalar, the scalars of an array; none for an
    object."""
    if isinstance(value, list):
        return [leaf for element in value for leaf in leaves(element)]
    return [] if isinstance(value, dict) else [value]


def _match_leaf(allowed: list[Any], found: list[Any]) -> bool:
    for item in allowed:
        if isinstance(item, dict) and "exists" in item:
            if bool(found) == item["exists"]:
                return True
        elif any(_match_value(item, value) for value in found):
            return True
    return False


def _match_value(item: Any, value: Any) -> bool:
    if not isinstance(item, dict):
        return same_json(item, value)
    ((name, argument),) = item.items()
    if name == "numeric":
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return is_number(value) and all(_COMPARE[op](value, bound) for op, bound in pairs)
    if name == "cidr":
        return _in_network(argument, value)
    if name == "anything-but":
        return not _excluded(argument, value)
    return isinstance(value, str) and string_match(name, argument, value)


def string_match(name: str, argument: str | dict[str, str], value: str) -> bool:
    """``prefix``, ``suffix``, ``equals-ignore-case`` or ``wildcard`` against a string."""
    if isinstance(argument, dict):  # {"prefix": {"equals-ignore-case": ...}}
        argument, value = argument["equals-ignore-case"].casefold(), value.casefold()
    if name == "prefix":
        return value.startswith(argument)
    if name == "suffix":
        return value.endswith(argument)
    if name == "equals-ignore-case":
        return value.casefold() == argument.casefold()
    return _wildcard(argument).fullmatch(value) is not None


def _excluded(argument: Any, value: Any) -> bool:
    if isinstance(argument, dict):
        ((name, excluded),) = argument.items()
        options = excluded if isinstance(excluded, list) else [excluded]
        return isinstance(value, str) and any(string_match(name, o, value) for o in options)
    options = argument if isinstance(argument, list) else [argument]
    return any(same_json(option, value) for option in options)


def same_json(expected: Any, found: Any) -> bool:
    """Exact match of JSON values: ``true`` is not ``1``, ``null`` is not ``""``, and numbers
    compare by their text (``300`` is not ``300.0``)."""
    if isinstance(found, dict | list):
        return False
    return json.dumps(expected) == json.dumps(found)


def _in_network(cidr: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    network = ipaddress.ip_network(cidr, strict=False)
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == network.version and address in network


@lru_cache(maxsize=256)
def _wildcard(pattern: str) -> re.Pattern[str]:
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            parts.append(".*" if char == "*" else re.escape(char))
    return re.compile("".join(parts), re.DOTALL)
