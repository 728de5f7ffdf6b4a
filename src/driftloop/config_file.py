"""Render the settings, with their docstrings as comments, as a ``driftloop.toml``."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from driftloop.config import Settings
from driftloop.durations import format_duration
from driftloop.errors import ConfigError
from driftloop.workspace import atomic_write_text

_HEADER = """\
# driftloop configuration. Every key is optional: the values shown are the defaults.
# Environment variables override this file: DRIFTLOOP_<KEY>, nested keys joined with "__",
# for example DRIFTLOOP_GATE__MIN_IMPROVEMENT=0.01.
"""


def render(settings: Settings | None = None) -> str:
    """A commented TOML document holding every setting."""
    return "\n".join([_HEADER, *_table(settings or Settings(), prefix="")]) + "\n"


def _table(model: BaseModel, prefix: str) -> list[str]:
    """Scalar keys of ``model`` first, then each nested section as its own ``[table]``."""
    lines: list[str] = []
    nested: list[tuple[str, BaseModel, str | None]] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            nested.append((name, value, field.description))
        else:
            lines += _entry(name, field.description, value)
    for name, section, description in nested:
        lines.append("")
        lines += [f"# {line.strip()}" for line in (description or "").splitlines()]
        lines.append(f"[{prefix}{name}]")
        lines += _table(section, prefix=f"{prefix}{name}.")
    return lines


def _entry(key: str, description: str | None, value: Any) -> list[str]:
    comment = [f"# {line.strip()}" for line in (description or "").splitlines()]
    if value is None:  # TOML has no null: show the key commented out
        return [*comment, f"# {key} = "]
    return [*comment, f"{key} = {toml_value(value)}"]


def toml_value(value: Any) -> str:
    """``value`` as a TOML value (inline tables for dicts, bare keys where TOML allows)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, timedelta):
        return json.dumps(format_duration(value))
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot render {type(value).__name__} as TOML")


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def write(path: Path, *, force: bool = False, settings: Settings | None = None) -> Path:
    """Write ``settings`` (default: the defaults) to ``path``; refuse to overwrite unless
    ``force``."""
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists (use --force to overwrite it)")
    atomic_write_text(path, render(settings))
    return path
