"""A small HCL writer for Terraform files, laid out as ``terraform fmt`` lays them out: two
spaces a level, the ``=`` of neighbouring one-line attributes aligned, objects and lists that
hold objects over several lines. Values are JSON-like; :class:`Raw` is an expression written
as it is, :class:`Call` a function call (``jsonencode({...})``)."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

INDENT = "  "
WIDTH = 100
"""Lists longer than this go one item a line."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Raw:
    """An HCL expression written as it is: ``var.region``, ``aws_sqs_queue.retrain.arn``."""

    text: str


@dataclass(frozen=True)
class Template:
    """A string template: literal text and expressions, ``"arn:${data.x.partition}:..."``."""

    parts: tuple[str | Raw, ...]


@dataclass(frozen=True)
class Call:
    """``function(argument)``."""

    function: str
    argument: Any


@dataclass
class Block:
    """``type "label" ... { body }``; the body holds :class:`Attribute`, :class:`Block` and
    ``None`` (a blank line)."""

    type: str
    labels: tuple[str, ...] = ()
    body: list[Attribute | Block | None] = field(default_factory=list)


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Any


def string(text: str) -> str:
    """A quoted HCL string holding ``text`` literally (no interpolation)."""
    escaped = json.dumps(text, ensure_ascii=False)
    return escaped.replace("${", "$${").replace("%{", "%%{")


def file_text(blocks: list[Block], header: str = "") -> str:
    """Top-level blocks, a blank line apart, after ``header`` (comment lines)."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for number, block in enumerate(blocks):
        if number or lines:
            lines.append("")
        lines += _block(block, 0)
    return "\n".join(lines) + "\n"


def _block(block: Block, level: int) -> list[str]:
    pad = INDENT * level
    head = " ".join([block.type, *(string(label) for label in block.labels)])
    items = list(block.body)
    while items and items[-1] is None:
        items.pop()
    if not items:
        return [f"{pad}{head} {{}}"]
    return [f"{pad}{head} {{", *_body(items, level + 1), f"{pad}}}"]


def _body(items: list[Attribute | Block | None], level: int) -> list[str]:
    """The lines of a body: chains of one-line attributes get their ``=`` aligned; a
    multi-line attribute, a block or a blank line ends a chain."""
    pad = INDENT * level
    lines: list[str] = []
    chain: list[tuple[str, str]] = []

    def close() -> None:
        width = max((len(name) for name, _ in chain), default=0)
        lines.extend(f"{pad}{name.ljust(width)} = {text}" for name, text in chain)
        chain.clear()

    for item in items:
        if isinstance(item, Attribute):
            text = value_lines(item.value, level)
            if len(text) == 1:
                chain.append((item.name, text[0]))
                continue
            close()
            lines.append(f"{pad}{item.name} = {text[0]}")
            lines += text[1:]
        else:
            close()
            lines += [""] if item is None else _block(item, level)
    close()
    return lines


def value_lines(value: Any, level: int) -> list[str]:
    """``value`` as HCL: its first line goes after ``name = ``, the others are indented to
    ``level`` (the level of the attribute)."""
    pad = INDENT * level
    if isinstance(value, Call):
        inner = value_lines(value.argument, level)
        return (
            [f"{value.function}({inner[0]}", *inner[1:-1], f"{inner[-1]})"]
            if len(inner) > 1
            else [f"{value.function}({inner[0]})"]
        )
    if isinstance(value, dict):
        if not value:
            return ["{}"]
        entries = [Attribute(_key(str(key)), item) for key, item in value.items()]
        return ["{", *_body(list(entries), level + 1), f"{pad}}}"]
    if isinstance(value, list | tuple):
        items = [value_lines(item, level + 1) for item in value]
        flat = "[" + ", ".join(item[0] for item in items) + "]"
        if (
            all(len(item) == 1 for item in items)
            and not any(isinstance(item, dict) and item for item in value)
            and len(pad) + len(flat) <= WIDTH
        ):
            return [flat]
        lines = ["["]
        for item in items:
            lines.append(f"{pad}{INDENT}{item[0]}")
            lines += item[1:]
            lines[-1] += ","
        return [*lines, f"{pad}]"]
    return [_scalar(value)]


def _key(key: str) -> str:
    """An object key: bare when it is an identifier, quoted otherwise."""
    if _IDENTIFIER.fullmatch(key) and key not in ("null", "true", "false"):
        return key
    return string(key)


def _scalar(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Template):
        inner = "".join(
            f"${{{part.text}}}" if isinstance(part, Raw) else string(part)[1:-1]
            for part in value.parts
        )
        return f'"{inner}"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no HCL for {value!r}")
        return repr(value)
    if isinstance(value, str):
        return string(value)
    raise TypeError(f"no HCL for {type(value).__name__}")
