"""The composition root: ``[backend] kind`` names an implementation module, imported only when
that backend is built, so a backend's SDK is needed only by those who choose it.

Nothing else constructs a concrete store; everything asks :meth:`Backends.from_settings`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from driftloop.errors import ConfigError

if TYPE_CHECKING:
    from driftloop.alarms.base import AlarmStore
    from driftloop.capture.base import CaptureStore, LabelStore
    from driftloop.config import Settings
    from driftloop.data.snapshot import SnapshotStore
    from driftloop.events.base import RuleStore
    from driftloop.metrics.base import MetricStore
    from driftloop.notifications.base import Notifier
    from driftloop.registry.base import ModelRegistry
    from driftloop.serving.endpoint_config import EndpointConfigStore

KINDS = {"local": ("driftloop.backends.local", None)}
"""Backend kind -> (implementation module, the pip extra that brings its SDK)."""


@dataclass(frozen=True)
class Backends:
    """Every store of one workspace, built for the configured backend kind."""

    metrics: MetricStore
    alarms: AlarmStore
    rules: RuleStore
    snapshots: SnapshotStore
    capture: CaptureStore
    endpoints: EndpointConfigStore
    registry: ModelRegistry
    notifier: Notifier
    labels: LabelStore

    @classmethod
    def from_settings(cls, settings: Settings) -> Backends:
        """The stores of ``settings.backend.kind``; :class:`ConfigError` in one sentence when
        the kind is unknown or its extra is not installed."""
        kind = settings.backend.kind
        if kind not in KINDS:
            raise ConfigError(f"backend.kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
        module_name, extra = KINDS[kind]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            hint = f'pip install "driftloop[{extra}]"' if extra else "reinstall driftloop"
            raise ConfigError(f"the {kind} backend cannot load ({exc}); {hint}") from None
        built: Backends = module.build(settings)
        return built
