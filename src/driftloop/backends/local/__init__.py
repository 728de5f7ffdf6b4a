"""The embedded default: every store in the workspace folder (files and SQLite)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftloop.backends.local.alarms import SqliteAlarmStore
from driftloop.backends.local.capture import FolderCaptureStore, FolderLabelStore
from driftloop.backends.local.endpoints import FolderEndpointStore
from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.backends.local.notifications import TopicNotifier
from driftloop.backends.local.registry import MlflowRegistry
from driftloop.backends.local.rules import FileRuleStore
from driftloop.backends.local.snapshots import FolderSnapshotStore

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends
    from driftloop.config import Settings


def build(settings: Settings) -> Backends:
    """The local stores of ``settings``' workspace."""
    from driftloop.backends.catalog import Backends

    ws = settings.workspace
    return Backends(
        metrics=SqliteMetricStore(ws.metrics_db),
        alarms=SqliteAlarmStore(ws.alarms_db),
        rules=FileRuleStore(ws.rules_file),
        snapshots=FolderSnapshotStore(ws.snapshots),
        capture=FolderCaptureStore(ws.capture),
        endpoints=FolderEndpointStore(ws),
        registry=MlflowRegistry(ws),
        notifier=TopicNotifier(settings.notifications, ws),
        labels=FolderLabelStore(ws),
    )
