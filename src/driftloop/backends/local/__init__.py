"""The embedded default: every store in the workspace folder (files, SQLite, MLflow). Each
store's module is imported only when that store is first used."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from driftloop.backends.catalog import STORES

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends, Check
    from driftloop.config import Settings


BUILDS = tuple(name for name in STORES if name != "training")
"""Every store but training jobs: local training runs in-process (``flows.train_and_register``)."""


def factories(settings: Settings) -> dict[str, Callable[[Backends], object]]:
    """How to build each local store of ``settings``' workspace."""
    ws = settings.workspace

    def metrics(_: Backends) -> object:
        from driftloop.backends.local.metrics import SqliteMetricStore

        return SqliteMetricStore(ws.metrics_db)

    def alarms(stores: Backends) -> object:
        from driftloop.backends.local.alarms import Evaluator, SqliteAlarmStore

        parts = Evaluator(str(ws.root), stores.metrics, stores.notifier, stores.events)
        return SqliteAlarmStore(ws.alarms_db, parts)

    def rules(_: Backends) -> object:
        from driftloop.backends.local.rules import FileRuleStore

        return FileRuleStore(ws.rules_file)

    def snapshots(_: Backends) -> object:
        from driftloop.backends.local.snapshots import FolderSnapshotStore

        return FolderSnapshotStore(ws.snapshots)

    def artifacts(_: Backends) -> object:
        from driftloop.backends.local.artifacts import FolderArtifactStore

        return FolderArtifactStore()

    def capture(_: Backends) -> object:
        from driftloop.backends.local.capture import FolderCaptureStore

        return FolderCaptureStore(ws.capture)

    def labels(_: Backends) -> object:
        from driftloop.backends.local.capture import FolderLabelStore

        return FolderLabelStore(ws)

    def events(stores: Backends) -> object:
        from driftloop.backends.local.events import LogEventBus

        return LogEventBus(ws, stores.rules)

    def endpoints(stores: Backends) -> object:
        from driftloop.backends.local.endpoints import FolderEndpointStore

        return FolderEndpointStore(ws, stores.events)

    def registry(stores: Backends) -> object:
        from driftloop.backends.local.registry import MlflowRegistry

        return MlflowRegistry(ws, stores.events)

    def notifier(_: Backends) -> object:
        from driftloop.backends.local.notifications import TopicNotifier

        return TopicNotifier(settings.notifications, ws)

    return {
        "metrics": metrics,
        "alarms": alarms,
        "rules": rules,
        "events": events,
        "snapshots": snapshots,
        "artifacts": artifacts,
        "capture": capture,
        "labels": labels,
        "endpoints": endpoints,
        "registry": registry,
        "notifier": notifier,
    }


def check(settings: Settings, enable_versioning: bool = False) -> list[Check]:
    """The workspace folder can be created and written."""
    from driftloop.backends.catalog import Check

    root = settings.workspace.root
    try:
        settings.workspace.ensure()
        probe = root / ".driftloop-check"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return [Check("workspace", False, f"{root} is not writable: {exc}")]
    return [Check("workspace", True, f"{root} is writable")]
