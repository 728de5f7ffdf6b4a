"""JSON laid out for reading: an array or object on one line when it fits, else one item a
line, two spaces a level."""

from __future__ import annotations

import json
from typing import Any

WIDTH = 100


def pretty(value: Any, width: int = WIDTH) -> str:
    """``value`` as JSON text; each line at most ``width`` characters where that can be."""
    return "\n".join(_lines(value, 0, width))


def _lines(value: Any, level: int, width: int) -> list[str]:
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, dict | list) or not value or 2 * level + len(flat) <= width:
        return [flat]
    pad = "  " * (level + 1)
    if isinstance(value, dict):
        opening, closing = "{", "}"
        items = [
            (json.dumps(str(key), ensure_ascii=False) + ": ", item) for key, item in value.items()
        ]
    else:
        opening, closing = "[", "]"
        items = [("", item) for item in value]
    lines = [opening]
    for number, (lead, item) in enumerate(items):
        inner = _lines(item, level + 1, width - len(lead))
        inner[0] = pad + lead + inner[0]
        if number < len(items) - 1:
            inner[-1] += ","
        lines += inner
    return [*lines, "  " * level + closing]
