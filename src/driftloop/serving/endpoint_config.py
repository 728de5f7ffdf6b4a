"""Endpoint configs: production variants, an optional shadow, data capture, or serverless.
Stored as JSON.

Saving a config is a deployment: the file is replaced atomically with a higher ``revision`` and
running workers pick it up without a restart.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from driftloop.errors import ConfigError, NotFoundError, first_problem

NAME_PATTERN = r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,62}$"  # SageMaker's endpoint and variant names


def check_name(value: str, what: str = "name") -> str:
    """``value`` when SageMaker takes it as an endpoint or variant name; else one sentence."""
    if not re.fullmatch(NAME_PATTERN, value):
        raise ValueError(
            f"{what} '{value}' is not one SageMaker takes: at most 63 letters, digits and "
            "hyphens, starting and ending with a letter or digit"
        )
    return value


Name = Annotated[str, AfterValidator(check_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fault(_Strict):
    """Fault injection for rehearsing roll-backs: added latency and a share of failures."""

    delay_ms: float = Field(default=0.0, ge=0)
    error_percent: float = Field(default=0.0, ge=0, le=100)


class Variant(_Strict):
    """A production variant: a model (version number or alias) and its traffic weight."""

    name: Name
    model: str = Field(min_length=1)
    weight: float = Field(default=1.0, ge=0)
    fault: Fault | None = None


class Shadow(_Strict):
    """A variant that gets a sampled copy of traffic; its answers are captured, never returned."""

    name: Name
    model: str = Field(min_length=1)
    sampling_percent: float = Field(default=100.0, ge=0, le=100)
    fault: Fault | None = None


class Capture(_Strict):
    """SageMaker-style data capture."""

    enabled: bool = True
    sampling_percent: float = Field(default=100.0, ge=0, le=100)
    modes: tuple[Literal["Input", "Output"], ...] = ("Input", "Output")


class Serverless(_Strict):
    """SageMaker's ServerlessConfig: memory and concurrency instead of instances. Locally the
    values are checked and kept; the endpoint serves as usual."""

    memory_mb: int = Field(default=2048, ge=1024, le=6144, multiple_of=1024)
    max_concurrency: int = Field(default=20, ge=1, le=200)
    provisioned_concurrency: int | None = Field(default=None, ge=1, le=200)

    @model_validator(mode="after")
    def _check(self) -> Serverless:
        provisioned = self.provisioned_concurrency
        if provisioned is not None and provisioned > self.max_concurrency:
            raise ValueError(
                f"provisioned_concurrency {provisioned} is above max_concurrency "
                f"{self.max_concurrency}"
            )
        return self


class EndpointConfig(_Strict):
    name: Name
    model_name: str = Field(min_length=1)
    variants: tuple[Variant, ...] = Field(min_length=1)
    shadow: Shadow | None = None
    capture: Capture = Capture()
    serverless: Serverless | None = None
    revision: int = 0
    updated: float = 0.0

    @model_validator(mode="after")
    def _check(self) -> EndpointConfig:
        names = [v.name for v in self.variants] + ([self.shadow.name] if self.shadow else [])
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        if sum(v.weight for v in self.variants) <= 0:
            raise ValueError("at least one variant needs a weight above 0")
        if self.serverless is not None:
            _check_serverless(self)
        return self


def _check_serverless(config: EndpointConfig) -> None:
    """What SageMaker refuses for a serverless endpoint, in one sentence."""
    if len(config.variants) > 1 or config.shadow is not None:
        raise ValueError(
            "a serverless endpoint has one production variant and no shadow "
            f"(got {len(config.variants)} variant(s)"
            + (f" and shadow '{config.shadow.name}')" if config.shadow else ")")
        )
    if config.capture.enabled:
        raise ValueError(
            "a serverless endpoint cannot capture data (SageMaker has no data capture, and so "
            "no Model Monitor, for serverless endpoints): set capture.enabled = false"
        )


@dataclass(frozen=True)
class Rollout:
    """How a store that shifts traffic itself moves it to a new config (SageMaker's
    DeploymentConfig: a blue/green update with traffic shifting and auto-rollback alarms)."""

    kind: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
    step_percent: float
    """Canary size, or linear step, in % of capacity (unused for ALL_AT_ONCE)."""
    wait_s: int
    """Bake between traffic shifts (WaitIntervalInSeconds)."""
    final_bake_s: int
    """Bake with all traffic on the new fleet before the old one goes (TerminationWaitInSeconds)."""
    alarms: tuple[str, ...]
    """Alarms whose ALARM state rolls the update back."""


class EndpointConfigStore(ABC):
    """Endpoint configs by name (SageMaker's CreateEndpointConfig, DescribeEndpointConfig,
    UpdateEndpoint). ``get`` and ``delete`` raise :class:`NotFoundError` for an unknown name."""

    shifts_traffic: ClassVar[bool] = False
    """True when the service behind the store moves traffic to a new config by itself and
    rolls back on alarms (SageMaker's deployment guardrails): deployments then hand it the
    whole update through :meth:`roll_out` instead of stepping through weights."""

    def roll_out(self, config: EndpointConfig, rollout: Rollout) -> EndpointConfig:
        """Store ``config`` and have the service shift traffic to it as ``rollout`` says;
        returns once it is done. :class:`DeploymentRolledBack` when the service rolled back
        (the previous config is then in place again). Only stores that ``shifts_traffic``."""
        raise ConfigError(f"{type(self).__name__} shifts no traffic by itself")

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
