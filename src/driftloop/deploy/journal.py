"""In-flight deployments on disk: what to restore when the deploying process dies.

Before its first traffic step a deployment writes ``deployments/<endpoint>.json`` (its owner,
the version and the endpoint config to restore) and removes it once settled. A second
deployment to that endpoint is refused while the owner runs; an entry whose owner is gone
(SIGKILL, power loss) is rolled back by the next `driftloop deploy` or by the agent, so a
half-shifted endpoint never stays that way.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftloop.errors import DeploymentInProgress
from driftloop.events.base import EventBus
from driftloop.names import safe_name
from driftloop.owner import Owner
from driftloop.serving.endpoint_config import EndpointConfig, EndpointConfigStore, validate_config
from driftloop.workspace import Workspace

log = logging.getLogger("driftloop.deploy")
SOURCE = "driftloop.deploy"


@dataclass(frozen=True)
class InFlight:
    endpoint: str
    version: int
    owner: Owner
    previous: EndpointConfig
    started: float


class DeployJournal:
    """The workspace's in-flight deployments, one JSON file per endpoint."""

    def __init__(self, workspace: Workspace) -> None:
        self.folder = workspace.root / "deployments"

    def begin(self, endpoint: str, version: int, previous: EndpointConfig) -> None:
        """Record a deployment; :class:`DeploymentInProgress` when one is recorded already."""
        entry = {
            "endpoint": endpoint,
            "version": version,
            "owner": Owner.current().to_dict(),
            "previous": previous.model_dump(mode="json"),
            "started": time.time(),
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{endpoint}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(entry, handle)
            os.link(tmp, self._path(endpoint))  # atomic, and fails when the entry exists
        except FileExistsError:
            other = self.get(endpoint)
            who = f" by {other.owner} (v{other.version})" if other else ""
            raise DeploymentInProgress(
                f"a deployment to {endpoint} is in progress{who}; wait for it to settle",
                details={"endpoint": endpoint},
            ) from None
        finally:
            Path(tmp).unlink(missing_ok=True)

    def end(self, endpoint: str) -> None:
        self._path(endpoint).unlink(missing_ok=True)

    def get(self, endpoint: str) -> InFlight | None:
        path = self._path(endpoint)
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        return InFlight(
            str(raw["endpoint"]),
            int(raw["version"]),
            Owner.from_dict(raw["owner"]),
            validate_config(raw["previous"]),
            float(raw["started"]),
        )

    def list(self) -> list[InFlight]:
        names = sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.is_dir() else []
        return [found for name in names if (found := self.get(name)) is not None]

    def _path(self, endpoint: str) -> Path:
        return self.folder / f"{safe_name(endpoint, 'endpoint')}.json"


def step_detail(step: str, config: EndpointConfig, version: int, **extra: Any) -> dict[str, Any]:
    """The detail of a "Deployment Step" event: the step and the config it left in place."""
    return {
        "endpoint": config.name,
        **extra,
        "step": step,
        "weights": {v.name: v.weight for v in config.variants},
        "models": {v.name: v.model for v in config.variants},
        "revision": config.revision,
        "version": version,
        "shadow": config.shadow.name if config.shadow else None,
    }


def recover(
    workspace: Workspace,
    store: EndpointConfigStore,
    events: EventBus,
    endpoint: str | None = None,
) -> list[dict[str, Any]]:
    """Roll back every in-flight deployment (of ``endpoint``, or all) whose owner is gone,
    through ``store``; the details of the "Deployment Step" events it emitted."""
    journal = DeployJournal(workspace)
    found = journal.list() if endpoint is None else [journal.get(endpoint)]
    recovered = []
    for entry in found:
        if entry is None or not entry.owner.gone():  # running, or on a host we cannot see
            continue
        restored = store.save(entry.previous)
        reason = f"interrupted: {entry.owner}, which was deploying v{entry.version}, is gone"
        detail = step_detail("rolled_back", restored, entry.version, reason=reason)
        events.emit(SOURCE, "Deployment Step", detail)
        journal.end(entry.endpoint)
        log.warning("deployment to %s rolled back: %s", entry.endpoint, reason)
        recovered.append(detail)
    return recovered
