"""A small YAML writer for CloudFormation templates: block mappings and sequences, plain
scalars where YAML reads them back as the same string, JSON-quoted strings otherwise, and
literal blocks for multi-line text. Its output loads back to the same value with any YAML 1.1
or 1.2 loader (no tags, no anchors, no dates)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:@+-]*")
_SPECIAL = frozenset(["y", "yes", "n", "no", "true", "false", "on", "off", "null"])
"""Words YAML 1.1 reads (in any case) as booleans or null."""


def dump(value: Any, header: str = "") -> str:
    """``value`` as a YAML document, after ``header`` (comment lines)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += _node(value, 0)
    return "\n".join(lines) + "\n"


def scalar(value: Any) -> str:
    """One scalar as YAML text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no YAML for {value!r} in a template")
        return repr(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and not value.endswith(":") and value.lower() not in _SPECIAL:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"no YAML for {type(value).__name__}")


def _is_block_text(value: Any) -> bool:
    if not isinstance(value, str) or "\n" not in value.rstrip("\n") or value.endswith("\n\n"):
        return False
    lines = value.removesuffix("\n").split("\n")
    return lines[0] == lines[0].strip() != "" and all(
        line == line.rstrip() and line.isprintable() for line in lines
    )


def _node(value: Any, indent: int) -> list[str]:
    """Lines of a mapping or sequence at ``indent`` (a scalar here is one line)."""
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines = []
        for key, item in value.items():
            lines += _entry(f"{pad}{scalar(str(key))}:", item, indent)
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            if isinstance(item, dict) and item:
                inner = _node(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines += inner[1:]
            else:
                lines += _entry(f"{pad}-", item, indent)
        return lines
    return [pad + _inline(value)]


def _entry(lead: str, item: Any, indent: int) -> list[str]:
    """``lead`` (``key:`` or ``-``) followed by ``item``: on the same line when it is a scalar
    or an empty collection, as a literal block for multi-line text, else on the lines below."""
    if isinstance(item, dict | list) and item:
        return [lead, *_node(item, indent + 2)]
    if _is_block_text(item):
        text = str(item)
        chomp = "" if text.endswith("\n") and not text.endswith("\n\n") else "-"
        body = text[:-1] if chomp == "" else text
        lines = (f"{' ' * (indent + 2)}{line}".rstrip() for line in body.split("\n"))
        return [f"{lead} |{chomp}", *lines]
    return [f"{lead} {_inline(item)}"]


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)
