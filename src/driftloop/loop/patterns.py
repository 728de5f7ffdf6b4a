"""EventBridge-style event patterns: validate them, then test events against them.

A pattern is an object whose keys name event fields. A key maps either to a nested pattern
(for a nested object) or to a list of allowed values (OR). Every key must match (AND); an empty
pattern matches every event. A list in the event matches when any of its elements does.

Allowed values are exact scalars (type-aware: ``5`` is not ``"5"``) or one-key matchers::

    {"prefix": "ALA"}
    {"anything-but": "OK"} / {"anything-but": ["OK", "INSUFFICIENT_DATA"]}
    {"anything-but": {"prefix": "test-"}}
    {"numeric": [">", 0, "<=", 5]}
    {"exists": true} / {"exists": false}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from driftloop.errors import ConfigError

_MISSING: Any = object()
_LOWER = {">", ">="}
_UPPER = {"<", "<="}
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _bad(where: str, problem: str) -> ConfigError:
    return ConfigError(f"event pattern {where}: {problem}", details={"where": where})


# --- validation ------------------------------------------------------------------------------


def validate_pattern(pattern: dict[str, Any], where: str = "pattern") -> None:
    """Raise :class:`ConfigError` naming the first malformed part of ``pattern``."""
    if not isinstance(pattern, dict):
        raise _bad(where, f"expected an object, got {type(pattern).__name__}")
    for key, expected in pattern.items():
        path = f"{where}.{key}"
        if isinstance(expected, dict):
            validate_pattern(expected, path)
        elif isinstance(expected, list):
            if not expected:
                raise _bad(path, "the list of allowed values is empty")
            for index, item in enumerate(expected):
                _validate_value(item, f"{path}[{index}]")
        else:
            raise _bad(path, "expected a list of allowed values or a nested object, got a value")


def _validate_value(item: Any, where: str) -> None:
    if _is_scalar(item):
        return
    if not isinstance(item, dict):
        raise _bad(where, f"expected a value or a matcher object, got {type(item).__name__}")
    if len(item) != 1:
        raise _bad(where, f"a matcher has exactly one key, got {sorted(item)}")
    ((name, argument),) = item.items()
    validator = _VALIDATORS.get(name)
    if validator is None:
        raise _bad(where, f"unknown matcher {name!r} (known: {', '.join(sorted(_VALIDATORS))})")
    validator(argument, f"{where}.{name}")


def _validate_prefix(argument: Any, where: str) -> None:
    if not isinstance(argument, str):
        raise _bad(where, "expects a string")


def _validate_exists(argument: Any, where: str) -> None:
    if not isinstance(argument, bool):
        raise _bad(where, "expects true or false")


def _validate_anything_but(argument: Any, where: str) -> None:
    if isinstance(argument, dict):
        if set(argument) != {"prefix"}:
            raise _bad(where, "only a {'prefix': ...} object is allowed")
        _validate_prefix(argument["prefix"], f"{where}.prefix")
    elif isinstance(argument, list):
        if not argument or not all(_is_scalar(value) for value in argument):
            raise _bad(where, "expects a non-empty list of plain values")
    elif not _is_scalar(argument):
        raise _bad(where, "expects a value, a list of values or {'prefix': ...}")


def _validate_numeric(argument: Any, where: str) -> None:
    if not isinstance(argument, list) or not argument or len(argument) % 2:
        raise _bad(where, "expects [operator, number, ...] pairs")
    pairs = list(zip(argument[::2], argument[1::2], strict=True))
    for operator, number in pairs:
        if operator not in _COMPARE:
            raise _bad(where, f"unknown operator {operator!r} (use {', '.join(_COMPARE)})")
        if not _is_number(number):
            raise _bad(where, f"{operator} needs a number, got {number!r}")
    operators = [operator for operator, _ in pairs]
    if "=" in operators and len(pairs) > 1:
        raise _bad(where, "'=' cannot be combined with other operators")
    lower = [number for operator, number in pairs if operator in _LOWER]
    upper = [number for operator, number in pairs if operator in _UPPER]
    if len(lower) > 1 or len(upper) > 1:
        raise _bad(where, "at most one lower bound and one upper bound")
    if lower and upper and lower[0] >= upper[0]:
        raise _bad(where, f"empty range: lower bound {lower[0]} is not below {upper[0]}")


_VALIDATORS: dict[str, Callable[[Any, str], None]] = {
    "prefix": _validate_prefix,
    "anything-but": _validate_anything_but,
    "numeric": _validate_numeric,
    "exists": _validate_exists,
}


# --- matching --------------------------------------------------------------------------------


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """True when ``event`` satisfies every key of ``pattern`` (assumed valid)."""
    return _match_object(pattern, event)


def _match_object(pattern: dict[str, Any], value: Any) -> bool:
    if isinstance(value, list):
        return any(_match_object(pattern, element) for element in value)
    fields = value if isinstance(value, dict) else {}
    for key, expected in pattern.items():
        found = fields.get(key, _MISSING)
        if isinstance(expected, dict):
            if not _match_object(expected, {} if found is _MISSING else found):
                return False
        elif not any(_match_value(item, found) for item in expected):
            return False
    return True


def _match_value(item: Any, found: Any) -> bool:
    if isinstance(item, dict) and "exists" in item:
        return (found is not _MISSING) == item["exists"]
    if found is _MISSING:
        return False
    if isinstance(found, list):
        return any(_match_scalar(item, element) for element in found)
    return _match_scalar(item, found)


def _match_scalar(item: Any, found: Any) -> bool:
    if not isinstance(item, dict):
        return _equal(item, found)
    ((name, argument),) = item.items()
    if name == "prefix":
        return isinstance(found, str) and found.startswith(argument)
    if name == "numeric":
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return _is_number(found) and all(_COMPARE[op](found, bound) for op, bound in pairs)
    return not _anything_but_hit(argument, found)


def _anything_but_hit(argument: Any, found: Any) -> bool:
    if isinstance(argument, dict):
        return isinstance(found, str) and found.startswith(argument["prefix"])
    excluded = argument if isinstance(argument, list) else [argument]
    return any(_equal(value, found) for value in excluded)


def _equal(expected: Any, found: Any) -> bool:
    if _is_number(expected) and _is_number(found):
        return expected == found
    return type(expected) is type(found) and expected == found
