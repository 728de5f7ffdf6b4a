"""The composition root: ``[backend] kind`` names an implementation module, imported only when
that backend is built, so a backend's SDK is needed only by those who choose it.

Nothing else constructs a concrete store; everything asks :meth:`Backends.from_settings`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from driftloop.errors import ConfigError

if TYPE_CHECKING:
    from driftloop.alarms.base import AlarmStore
    from driftloop.capture.base import CaptureStore, LabelStore
    from driftloop.config import Settings
    from driftloop.data.artifacts import ArtifactStore
    from driftloop.data.snapshot import SnapshotStore
    from driftloop.events.base import EventBus, RuleStore
    from driftloop.metrics.base import MetricStore
    from driftloop.notifications.base import Notifier
    from driftloop.registry.base import ModelRegistry
    from driftloop.serving.endpoint_config import EndpointConfigStore
    from driftloop.training.jobs import TrainingJobs

KINDS = {
    "local": ("driftloop.backends.local", None),
    "aws": ("driftloop.backends.aws", "aws"),
}
"""Backend kind -> (implementation module, the pip extra that brings its SDK)."""
STORES = (
    "metrics",
    "alarms",
    "rules",
    "events",
    "snapshots",
    "artifacts",
    "capture",
    "labels",
    "endpoints",
    "registry",
    "notifier",
    "training",
)
"""Every store a backend kind may build. The local kind builds all but training jobs; a kind that
builds fewer (the aws backend, while it grows) says so in one sentence when a missing one is
asked for."""


class Backends:
    """Every store of one workspace, for the configured backend kind. A store is built on first
    use, so asking for one store never touches (or creates) another."""

    def __init__(
        self, factories: Mapping[str, Callable[[Backends], object]], kind: str = "local"
    ) -> None:
        """``factories`` build each store; they get this object, so that one store can use
        another (the endpoint store announces changes on the event bus)."""
        unknown = sorted(set(factories) - set(STORES))
        if unknown:
            raise ConfigError(f"the {kind} backend builds unknown stores: {', '.join(unknown)}")
        self.kind = kind
        self._factories = dict(factories)

    def _build(self, name: str) -> Any:
        if name not in self._factories:
            raise ConfigError(
                f'the {self.kind} backend has no {name} store yet; use backend.kind "local"'
            )
        return self._factories[name](self)

    @cached_property
    def metrics(self) -> MetricStore:
        return cast("MetricStore", self._build("metrics"))

    @cached_property
    def alarms(self) -> AlarmStore:
        return cast("AlarmStore", self._build("alarms"))

    @cached_property
    def rules(self) -> RuleStore:
        return cast("RuleStore", self._build("rules"))

    @cached_property
    def events(self) -> EventBus:
        return cast("EventBus", self._build("events"))

    @cached_property
    def snapshots(self) -> SnapshotStore:
        return cast("SnapshotStore", self._build("snapshots"))

    @cached_property
    def artifacts(self) -> ArtifactStore:
        return cast("ArtifactStore", self._build("artifacts"))

    @cached_property
    def capture(self) -> CaptureStore:
        return cast("CaptureStore", self._build("capture"))

    @cached_property
    def labels(self) -> LabelStore:
        return cast("LabelStore", self._build("labels"))

    @cached_property
    def endpoints(self) -> EndpointConfigStore:
        return cast("EndpointConfigStore", self._build("endpoints"))

    @cached_property
    def registry(self) -> ModelRegistry:
        return cast("ModelRegistry", self._build("registry"))

    @cached_property
    def notifier(self) -> Notifier:
        return cast("Notifier", self._build("notifier"))

    @cached_property
    def training(self) -> TrainingJobs:
        """Training jobs run by a service (the aws kind's SageMaker); the local kind trains
        in-process (``flows.train_and_register``) and builds none."""
        return cast("TrainingJobs", self._build("training"))

    @classmethod
    def from_settings(cls, settings: Settings) -> Backends:
        """The stores of ``settings.backend.kind``; :class:`ConfigError` in one sentence when
        the kind is unknown or its extra is not installed."""
        kind = settings.backend.kind
        return cls(_module(kind).factories(settings), kind)


def _module(kind: str) -> Any:
    """The implementation module of backend ``kind``; one sentence when it cannot load."""
    if kind not in KINDS:
        raise ConfigError(f"backend.kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    module_name, extra = KINDS[kind]
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        hint = f'pip install "driftloop[{extra}]"' if extra else "reinstall driftloop"
        raise ConfigError(f"the {kind} backend cannot load ({exc}); {hint}") from None


@dataclass(frozen=True)
class Check:
    """One thing a backend needs, and whether it is there."""

    name: str
    ok: bool
    detail: str


def check(settings: Settings, *, enable_versioning: bool = False) -> list[Check]:
    """What ``settings.backend.kind`` needs before the loop runs on it (a writable workspace;
    on aws the region, credentials, the bucket and its versioning, which
    ``enable_versioning`` turns on)."""
    module = _module(settings.backend.kind)
    return list(module.check(settings, enable_versioning))


def builds(kind: str) -> tuple[str, ...]:
    """The stores backend ``kind`` builds (its module's ``BUILDS``)."""
    module_name, _extra = KINDS[kind]
    return tuple(importlib.import_module(module_name).BUILDS)
