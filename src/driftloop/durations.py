"""One duration type for every setting and option that is a length of time.

A duration is written in any of three ways, all read into a :class:`~datetime.timedelta`:

- a number of seconds: ``30``, ``0.5``;
- a short form: ``90s``, ``15m``, ``1h30m``, ``2d``, ``250ms`` (a leading ``-`` negates);
- ISO 8601, as Model Monitor and pydantic write it: ``PT5M``, ``P1DT12H``, ``-P8D``.

Settings check them when they load (:data:`Duration`, :data:`PositiveDuration`), so a wrong
value fails at start with one sentence naming the key, not when the agent reaches it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, TypeAdapter, ValidationError

from driftloop.errors import ConfigError

_SHORT = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ISO = TypeAdapter(timedelta)
EXAMPLES = "a number of seconds, 90s, 15m, 1h30m, 2d or ISO 8601 like PT5M"


def parse_duration(value: object) -> timedelta:
    """Read a duration written any of the three ways; ValueError names what was wrong."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration ({EXAMPLES})")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration ({EXAMPLES})")
    text = value.strip()
    short = _short_form(text)
    if short is not None:
        return short
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        pass
    if text.lstrip("-+").upper().startswith("P"):
        try:
            return _ISO.validate_python(text)
        except ValidationError:
            pass
    raise ValueError(f"'{value}' is not a duration ({EXAMPLES})")


def parse_at_least(text: str, minimum: timedelta, *, what: str = "duration") -> timedelta:
    """A command-line duration of at least ``minimum``; ConfigError says what is wrong."""
    try:
        value = parse_duration(text)
    except ValueError as error:
        raise ConfigError(f"{what}: {error}") from None
    if value < minimum:
        raise ConfigError(f"{what} '{text}' is shorter than {format_duration(minimum)}")
    return value


def _short_form(text: str) -> timedelta | None:
    sign = -1.0 if text.startswith("-") else 1.0
    body = re.sub(r"\s", "", text.lstrip("-")).lower()
    parts = _SHORT.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        return None
    return timedelta(seconds=sign * sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def at_least(minimum: timedelta) -> AfterValidator:
    """A validator refusing durations shorter than ``minimum``."""

    def check(value: timedelta) -> timedelta:
        if value < minimum:
            raise ValueError(f"{format_duration(value)} is shorter than {format_duration(minimum)}")
        return value

    return AfterValidator(check)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"{format_duration(value)} is not a positive duration")
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError(f"{format_duration(value)} is negative")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""Any duration, negative ones included (Model Monitor's offsets are negative)."""
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
"""A duration longer than zero."""
NonNegativeDuration = Annotated[
    timedelta, BeforeValidator(parse_duration), AfterValidator(_not_negative)
]
"""A duration of zero or more."""
Interval = Annotated[timedelta, BeforeValidator(parse_duration), at_least(timedelta(minutes=1))]
"""A schedule's interval: one minute or longer."""


def format_duration(value: timedelta) -> str:
    """The short form of a duration (``1h30m``, ``250ms``), as people write it."""
    total_ms = round(value.total_seconds() * 1000)
    sign, total_ms = ("-", -total_ms) if total_ms < 0 else ("", total_ms)
    if total_ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    if total_ms:
        parts.append(f"{total_ms}ms")
    return sign + "".join(parts)
