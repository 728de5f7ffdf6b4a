"""Endpoint configs: production variants, an optional shadow, data capture. Stored as JSON.

Saving a config is a deployment: the file is replaced atomically with a higher ``revision`` and
running workers pick it up without a restart.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from driftloop.errors import ConfigError, NotFoundError, first_problem

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


class EndpointConfigStore(ABC):
    """Endpoint configs by name (SageMaker's CreateEndpointConfig, DescribeEndpointConfig,
    UpdateEndpoint). ``get`` and ``delete`` raise :class:`NotFoundError` for an unknown name."""

    @abstractmethod
    def save(self, config: EndpointConfig) -> EndpointConfig:
        """Store ``config`` as the endpoint's next revision (announced as an "Endpoint Config
        Updated" event); returns what was stored, with its revision and time."""

    @abstractmethod
    def get(self, name: str) -> EndpointConfig:
        """The endpoint's current config."""

    @abstractmethod
    def list(self) -> list[EndpointConfig]:
        """Every endpoint's current config, by name."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the endpoint's config."""

    @abstractmethod
    def change_marker(self, name: str) -> object | None:
        """Something cheap that changes whenever the config does (None: no config), for servers
        that poll for a new revision."""


def summary(config: EndpointConfig) -> dict[str, object]:
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
