"""Validation of EventBridge event patterns: every documented operator, and the documented limits.

Each refusal is a :class:`ConfigError` of one sentence naming the part of the pattern at fault.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from driftloop.errors import ConfigError

NUMERIC_LIMIT = 5.0e9  # numeric matching works on values between -5.0e9 and +5.0e9 inclusive
LOWER = {">", ">="}
UPPER = {"<", "<="}
OPERATORS = ("=", ">", ">=", "<", "<=")
STRING_MATCHERS = ("prefix", "suffix", "equals-ignore-case", "wildcard")


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def bad(where: str, problem: str) -> ConfigError:
    return ConfigError(f"event pattern {where}: {problem}", details={"where": where})


def validate_pattern(pattern: Any, where: str = "pattern") -> None:
    """Raise :class:`ConfigError` naming the first malformed part of ``pattern``."""
    if not isinstance(pattern, dict):
        raise bad(where, f"expected an object, got {type(pattern).__name__}")
    for key, expected in pattern.items():
        path = f"{where}.{key}"
        if key == "$or" and isinstance(expected, list):
            _validate_or(expected, path)
        elif isinstance(expected, dict):
            validate_pattern(expected, path)
        elif isinstance(expected, list):
            if not expected:
                raise bad(path, "the list of allowed values is empty")
            for index, item in enumerate(expected):
                _validate_value(item, f"{path}[{index}]")
        else:
            raise bad(path, "expected a list of allowed values or a nested object, got a value")


def _validate_or(alternatives: list[Any], where: str) -> None:
    if len(alternatives) < 2 or not all(isinstance(item, dict) for item in alternatives):
        raise bad(where, "$or takes a list of at least two pattern objects")
    for index, alternative in enumerate(alternatives):
        if not alternative:
            raise bad(f"{where}[{index}]", "an alternative of $or is empty")
        validate_pattern(alternative, f"{where}[{index}]")


def _validate_value(item: Any, where: str) -> None:
    if is_scalar(item):
        return
    if not isinstance(item, dict):
        raise bad(where, f"expected a value or a matcher object, got {type(item).__name__}")
    if len(item) != 1:
        raise bad(where, f"a matcher has exactly one key, got {sorted(item)}")
    ((name, argument),) = item.items()
    validator = _VALIDATORS.get(name)
    if validator is None:
        raise bad(where, f"unknown matcher {name!r} (known: {', '.join(sorted(_VALIDATORS))})")
    validator(argument, f"{where}.{name}")


def _validate_string(argument: Any, where: str) -> None:
    if not isinstance(argument, str):
        raise bad(where, "expects a string")


def _validate_affix(argument: Any, where: str) -> None:
    """``prefix`` and ``suffix`` take a string or ``{"equals-ignore-case": string}``."""
    if isinstance(argument, dict):
        if set(argument) != {"equals-ignore-case"}:
            raise bad(where, "expects a string or {'equals-ignore-case': string}")
        _validate_string(argument["equals-ignore-case"], f"{where}.equals-ignore-case")
    else:
        _validate_string(argument, where)


def _validate_wildcard(argument: Any, where: str) -> None:
    _validate_string(argument, where)
    escaped = False
    previous_star = False
    for char in argument:
        if escaped:
            if char not in "*\\":
                raise bad(where, f"a backslash may only escape '*' or '\\', not {char!r}")
            escaped, previous_star = False, False
        elif char == "\\":
            escaped = True
        elif char == "*":
            if previous_star:
                raise bad(where, "consecutive wildcard characters are not allowed")
            previous_star = True
        else:
            previous_star = False
    if escaped:
        raise bad(where, "ends with a lone backslash")


def _validate_exists(argument: Any, where: str) -> None:
    if not isinstance(argument, bool):
        raise bad(where, "expects true or false")


def _validate_cidr(argument: Any, where: str) -> None:
    _validate_string(argument, where)
    try:
        ipaddress.ip_network(argument, strict=False)
    except ValueError:
        raise bad(where, f"{argument!r} is not an IPv4 or IPv6 CIDR block") from None


def _validate_anything_but(argument: Any, where: str) -> None:
    if isinstance(argument, dict):
        _validate_anything_but_matcher(argument, where)
    elif isinstance(argument, list):
        if not argument:
            raise bad(where, "expects a non-empty list")
        for value in argument:
            _validate_excluded(value, where)
        if len({isinstance(value, str) for value in argument}) > 1:
            raise bad(where, "a list must hold only strings or only numbers, not both")
    else:
        _validate_excluded(argument, where)


def _validate_excluded(value: Any, where: str) -> None:
    if not (isinstance(value, str) or is_number(value)):
        shown = "null" if value is None else repr(value).lower()
        raise bad(where, f"works with strings and numbers only, got {shown}")


def _validate_anything_but_matcher(argument: dict[str, Any], where: str) -> None:
    if len(argument) != 1 or next(iter(argument)) not in STRING_MATCHERS:
        raise bad(where, f"an object takes exactly one of {', '.join(STRING_MATCHERS)}")
    ((name, value),) = argument.items()
    path = f"{where}.{name}"
    if isinstance(value, list) and name in ("equals-ignore-case", "wildcard"):
        if not value:
            raise bad(path, "expects a non-empty list")
        for item in value:
            (_validate_wildcard if name == "wildcard" else _validate_string)(item, path)
    elif name == "wildcard":
        _validate_wildcard(value, path)
    else:
        _validate_string(value, path)  # a single prefix or suffix, not a list


def _validate_numeric(argument: Any, where: str) -> None:
    if not isinstance(argument, list) or not argument or len(argument) % 2:
        raise bad(where, "expects [operator, number, ...] pairs")
    pairs = list(zip(argument[::2], argument[1::2], strict=True))
    for operator, number in pairs:
        if operator not in OPERATORS:
            raise bad(where, f"unknown operator {operator!r} (use {', '.join(OPERATORS)})")
        if not is_number(number):
            raise bad(where, f"{operator} needs a number, got {number!r}")
        if abs(number) > NUMERIC_LIMIT:
            raise bad(where, f"{number!r} is outside the range -5.0e9 to +5.0e9")
    operators = [operator for operator, _ in pairs]
    if "=" in operators and len(pairs) > 1:
        raise bad(where, "'=' cannot be combined with other operators")
    lower = [number for operator, number in pairs if operator in LOWER]
    upper = [number for operator, number in pairs if operator in UPPER]
    if len(lower) > 1 or len(upper) > 1:
        raise bad(where, "at most one lower bound and one upper bound")
    if lower and upper and lower[0] >= upper[0]:
        raise bad(where, f"empty range: lower bound {lower[0]} is not below {upper[0]}")


_VALIDATORS: dict[str, Callable[[Any, str], None]] = {
    "prefix": _validate_affix,
    "suffix": _validate_affix,
    "equals-ignore-case": _validate_string,
    "wildcard": _validate_wildcard,
    "anything-but": _validate_anything_but,
    "numeric": _validate_numeric,
    "cidr": _validate_cidr,
    "exists": _validate_exists,
}
