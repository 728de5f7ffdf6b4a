"""What a monitoring job compares against: the model version behind an endpoint variant."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from driftloop.backends.catalog import Backends
from driftloop.config import DriftSettings, Settings
from driftloop.data.snapshot import SnapshotStore
from driftloop.data.spec import TabularSpec
from driftloop.errors import ConfigError, NotFoundError
from driftloop.monitoring.reference import ReferenceProfile
from driftloop.serving.endpoint_config import Shadow, Variant
from driftloop.serving.models import resolve_version
from driftloop.validation import Baseline

PROFILE_FILE = "drift_profile.npz"


@dataclass(frozen=True)
class MonitorTarget:
    """One endpoint variant, its model version, that version's baseline and reference data."""

    endpoint: str
    variant: str
    model_name: str
    version: int
    spec: TabularSpec
    threshold: float
    baseline: Baseline
    snapshot: str  # the training snapshot's digest
    snapshots: SnapshotStore
    expected: dict[str, float]  # the version's validation metrics, from its registry tags

    def reference(self) -> pd.DataFrame:
        return self.snapshots.read(self.snapshot)

    def profile(self, settings: DriftSettings) -> ReferenceProfile:
        """Drift reference statistics: built once per model version, kept with its baseline."""
        path = self.baseline.constraints_path.parent / PROFILE_FILE
        if path.is_file():
            return ReferenceProfile.load(path)
        profile = ReferenceProfile.build(self.reference(), self.spec, settings)
        profile.save(path)
        return profile


def served_spec(model_name: str, version: int) -> tuple[TabularSpec, float]:
    """The input spec and decision threshold a registered version was logged with."""
    import mlflow

    metadata = mlflow.models.get_model_info(f"models:/{model_name}/{version}").metadata or {}
    return TabularSpec.from_dict(metadata["driftloop_spec"]), float(
        metadata.get("driftloop_threshold", 0.5)
    )


def resolve_target(settings: Settings, endpoint: str, variant: str | None = None) -> MonitorTarget:
    """The variant ``variant`` of ``endpoint`` (default: the heaviest production variant)."""
    config = Backends.from_settings(settings).endpoints.get(endpoint)
    if config.serverless is not None:
        raise ConfigError(
            f"endpoint '{endpoint}' is serverless: it captures no traffic, so there is nothing "
            "to monitor (SageMaker runs no Model Monitor on serverless endpoints either)"
        )
    chosen: Variant | Shadow = max(config.variants, key=lambda v: v.weight)
    if variant is not None:
        names: dict[str, Variant | Shadow] = {v.name: v for v in config.variants}
        if config.shadow is not None:
            names[config.shadow.name] = config.shadow
        if variant not in names:
            raise NotFoundError(f"endpoint '{endpoint}' has no variant '{variant}'")
        chosen = names[variant]
    registry = Backends.from_settings(settings).registry
    number = resolve_version(registry, config.model_name, chosen.model)
    version = registry.get_version(config.model_name, number)
    if not version.baseline_uri or not version.train_snapshot:
        raise NotFoundError(
            f"{config.model_name} v{number} has no baseline or training snapshot recorded "
            "(register it with `driftloop train`)"
        )
    spec, threshold = served_spec(config.model_name, number)
    baseline = Baseline.load(
        Backends.from_settings(settings).artifacts.local_folder(version.baseline_uri)
    )
    snapshots = Backends.from_settings(settings).snapshots
    snapshots.get(version.train_snapshot)  # NotFoundError when it is missing
    return MonitorTarget(
        endpoint=endpoint,
        variant=chosen.name,
        model_name=config.model_name,
        version=number,
        spec=spec,
        threshold=threshold,
        baseline=baseline,
        snapshot=version.train_snapshot,
        snapshots=snapshots,
        expected={
            key.removeprefix("metric."): float(value)
            for key, value in version.tags.items()
            if key.startswith("metric.")
        },
    )
