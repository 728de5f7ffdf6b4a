"""The local endpoint config store: one JSON file per endpoint in the workspace."""

from __future__ import annotations

import time
from pathlib import Path

from driftloop.errors import NotFoundError
from driftloop.events.base import EventBus
from driftloop.names import safe_name
from driftloop.serving.endpoint_config import (
    EndpointConfig,
    EndpointConfigStore,
    read_config,
    summary,
)
from driftloop.workspace import Workspace, atomic_write_text


class FolderEndpointStore(EndpointConfigStore):
    """Endpoint configs under ``<workspace>/endpoints/<name>.json``."""

    def __init__(self, workspace: Workspace, events: EventBus) -> None:
        self.workspace = workspace
        self.events = events
        self.folder = workspace.endpoints

    def path(self, name: str) -> Path:
        return self.folder / f"{safe_name(name, 'endpoint')}.json"

    def save(self, config: EndpointConfig) -> EndpointConfig:
        previous = self.get(config.name) if self.path(config.name).is_file() else None
        revision = (previous.revision if previous else 0) + 1
        stored = config.model_copy(update={"revision": revision, "updated": time.time()})
        atomic_write_text(self.path(config.name), stored.model_dump_json(indent=2))
        self.events.emit("driftloop.deploy", "Endpoint Config Updated", summary(stored))
        return stored

    def get(self, name: str) -> EndpointConfig:
        return read_config(self.path(name))

    def list(self) -> list[EndpointConfig]:
        return [read_config(p) for p in sorted(self.folder.glob("*.json"))]

    def delete(self, name: str) -> None:
        if not self.path(name).is_file():
            raise NotFoundError(f"endpoint '{name}' does not exist")
        self.path(name).unlink()

    def change_marker(self, name: str) -> object | None:
        try:
            stat = self.path(name).stat()
        except FileNotFoundError:
            return None
        return stat.st_mtime_ns, stat.st_size
