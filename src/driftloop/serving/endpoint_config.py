"""Endpoint configs: production variants, an optional shadow, data capture. Stored as JSON.

Saving a config is a deployment: the file is replaced atomically with a higher ``revision`` and
running workers pick it up without a restart.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from driftloop.errors import ConfigError, NotFoundError, first_problem
from driftloop.events.log import emit
from driftloop.workspace import Workspace, atomic_write_text

NAME_PATTERN = r"^[A-Za-z0-9](-*[A-Za-z0-9])*$"  # SageMaker's endpoint and variant names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fault(_Strict):
    """Fault injection for rehearsing roll-backs: added latency and a share of failures."""

    delay_ms: float = Field(default=0.0, ge=0)
    error_percent: float = Field(default=0.0, ge=0, le=100)


class Variant(_Strict):
    """A production variant: a model (version number or alias) and its traffic weight."""

    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    model: str = Field(min_length=1)
    weight: float = Field(default=1.0, ge=0)
    fault: Fault | None = None


class Shadow(_Strict):
    """A variant that gets a sampled copy of traffic; its answers are captured, never returned."""

    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    model: str = Field(min_length=1)
    sampling_percent: float = Field(default=100.0, ge=0, le=100)
    fault: Fault | None = None


class Capture(_Strict):
    """SageMaker-style data capture."""

    enabled: bool = True
    sampling_percent: float = Field(default=100.0, ge=0, le=100)
    modes: tuple[Literal["Input", "Output"], ...] = ("Input", "Output")


class EndpointConfig(_Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    model_name: str = Field(min_length=1)
    variants: tuple[Variant, ...] = Field(min_length=1)
    shadow: Shadow | None = None
    capture: Capture = Capture()
    revision: int = 0
    updated: float = 0.0

    @model_validator(mode="after")
    def _check(self) -> EndpointConfig:
        names = [v.name for v in self.variants] + ([self.shadow.name] if self.shadow else [])
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("at least one variant needs a weight above 0")
        return self


class EndpointStore:
    """Endpoint configs under ``<workspace>/endpoints/<name>.json``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.folder = workspace.endpoints

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def save(self, config: EndpointConfig) -> EndpointConfig:
        """Write ``config`` atomically as the next revision and return what was written."""
        previous = self.get(config.name) if self.path(config.name).is_file() else None
        revision = (previous.revision if previous else 0) + 1
        stored = config.model_copy(update={"revision": revision, "updated": time.time()})
        atomic_write_text(self.path(config.name), stored.model_dump_json(indent=2))
        emit(self.workspace, "driftloop.deploy", "Endpoint Config Updated", _summary(stored))
        return stored

    def get(self, name: str) -> EndpointConfig:
        return read_config(self.path(name))

    def list(self) -> list[EndpointConfig]:
        return [read_config(p) for p in sorted(self.folder.glob("*.json"))]

    def delete(self, name: str) -> None:
        if not self.path(name).is_file():
            raise NotFoundError(f"endpoint '{name}' does not exist")
        self.path(name).unlink()


def _summary(config: EndpointConfig) -> dict[str, object]:
    return {
        "endpoint": config.name,
        "revision": config.revision,
        "variants": [
            {"name": v.name, "model": v.model, "weight": v.weight} for v in config.variants
        ],
        "shadow": config.shadow.model if config.shadow else None,
    }


def read_config(path: Path) -> EndpointConfig:
    """Load one config file; errors name the file and the bad key."""
    if not path.is_file():
        raise NotFoundError(f"endpoint '{path.stem}' does not exist ({path})")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    return validate_config(raw, where=str(path))


def validate_config(fields: object, *, where: str = "endpoint config") -> EndpointConfig:
    """An :class:`EndpointConfig` from plain data; :class:`ConfigError` names the bad key."""
    try:
        return EndpointConfig.model_validate(fields)
    except ValidationError as exc:
        key, message = first_problem(exc)
        raise ConfigError(f"{where}: '{key or '(top level)'}': {message}") from None
