"""The aws backend: S3, CloudWatch, SNS, EventBridge and SQS, through boto3 (``pip install
"driftloop[aws]"``). Importing this package imports boto3, so a missing extra is reported by
the composition root in one sentence; each store's module is imported when it is first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3  # noqa: F401  (the extra this backend needs: fail here, not mid-way)

from driftloop.backends.aws._check import check

__all__ = ["BUILDS", "check", "factories"]

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends
    from driftloop.config import Settings

_CLASSES = {
    "metrics": ("metrics", "CloudWatchMetricStore"),
    "alarms": ("alarms", "CloudWatchAlarmStore"),
    "notifier": ("notifications", "SnsNotifier"),
    "rules": ("rules", "EventBridgeRuleStore"),
    "events": ("events", "EventBridgeBus"),
    "snapshots": ("snapshots", "S3SnapshotStore"),
    "artifacts": ("artifacts", "S3ArtifactStore"),
    "capture": ("capture", "S3CaptureStore"),
    "labels": ("capture", "S3LabelStore"),
    "registry": ("registry", "SageMakerRegistry"),
    "training": ("training", "SageMakerTrainingJobs"),
    "endpoints": ("endpoints", "SageMakerEndpointStore"),
}
"""Store -> (module under driftloop.backends.aws, class). Each class is built as
``Class(settings, stores)``."""

BUILDS = tuple(_CLASSES)
"""The stores the aws backend builds: every one, and the SageMaker training jobs the local
backend has no need of."""


def factories(settings: Settings) -> dict[str, Callable[[Backends], object]]:
    """How to build each aws store of ``settings``."""

    def factory(module: str, name: str) -> Callable[[Backends], object]:
        def build(stores: Backends) -> object:
            cls = getattr(importlib.import_module(f"{__name__}.{module}"), name)
            return cls(settings, stores)

        return build

    return {store: factory(*where) for store, where in _CLASSES.items()}
