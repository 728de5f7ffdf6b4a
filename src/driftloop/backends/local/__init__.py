"""The embedded default: every store in the workspace folder (files, SQLite, MLflow). Each
store's module is imported only when that store is first used."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from driftloop.config import Settings


def factories(settings: Settings) -> dict[str, Callable[[], object]]:
    """How to build each local store of ``settings``' workspace."""
    ws = settings.workspace

    def metrics() -> object:
        from driftloop.backends.local.metrics import SqliteMetricStore

        return SqliteMetricStore(ws.metrics_db)

    def alarms() -> object:
        from driftloop.backends.local.alarms import SqliteAlarmStore

        return SqliteAlarmStore(ws.alarms_db)

    def rules() -> object:
        from driftloop.backends.local.rules import FileRuleStore

        return FileRuleStore(ws.rules_file)

    def snapshots() -> object:
        from driftloop.backends.local.snapshots import FolderSnapshotStore

        return FolderSnapshotStore(ws.snapshots)

    def capture() -> object:
        from driftloop.backends.local.capture import FolderCaptureStore

        return FolderCaptureStore(ws.capture)

    def labels() -> object:
        from driftloop.backends.local.capture import FolderLabelStore

        return FolderLabelStore(ws)

    def endpoints() -> object:
        from driftloop.backends.local.endpoints import FolderEndpointStore

        return FolderEndpointStore(ws)

    def registry() -> object:
        from driftloop.backends.local.registry import MlflowRegistry

        return MlflowRegistry(ws)

    def notifier() -> object:
        from driftloop.backends.local.notifications import TopicNotifier

        return TopicNotifier(settings.notifications, ws)

    return {
        "metrics": metrics,
        "alarms": alarms,
        "rules": rules,
        "snapshots": snapshots,
        "capture": capture,
        "labels": labels,
        "endpoints": endpoints,
        "registry": registry,
        "notifier": notifier,
    }
