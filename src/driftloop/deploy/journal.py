"""In-flight deployments on disk: what to restore when the deploying process dies.

Before its first traffic step a deployment writes ``deployments/<endpoint>.json`` (its owner,
the version and the endpoint config to restore), records each step it takes there, and removes
it once settled, leaving how it ended in ``deployments/settled/<endpoint>.json``. A second
deployment to that endpoint is refused while the owner runs; an entry whose owner is gone
(SIGKILL, power loss) is settled by the next `driftloop deploy` or by the agent, so a
half-shifted endpoint never stays that way: rolled back to the config it replaced, unless the
final config was already saved, in which case it is completed (the promotion redone). The bake
that would have judged the new version died with its process, so nothing half-way resumes.
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
from driftloop.registry.base import ModelRegistry
from driftloop.registry.lifecycle import promote
from driftloop.serving.endpoint_config import EndpointConfig, EndpointConfigStore, validate_config
from driftloop.workspace import Workspace

log = logging.getLogger("driftloop.deploy")
SOURCE = "driftloop.deploy"


FINAL_STEP = "completed"


@dataclass(frozen=True)
class InFlight:
    endpoint: str
    version: int
    owner: Owner
    previous: EndpointConfig
    started: float
    step: str | None = None
    """The last step whose config was saved (None: none yet)."""
    revision: int | None = None
    """The endpoint config revision that step saved."""
    promote: bool = True
    """Whether the version becomes champion once all traffic is on it."""


class DeployJournal:
    """The workspace's in-flight deployments, one JSON file per endpoint."""

    def __init__(self, workspace: Workspace) -> None:
        self.folder = workspace.root / "deployments"

    def begin(
        self, endpoint: str, version: int, previous: EndpointConfig, *, promote: bool = True
    ) -> None:
        """Record a deployment; :class:`DeploymentInProgress` when one is recorded already."""
        entry = {
            "endpoint": endpoint,
            "version": version,
            "owner": Owner.current().to_dict(),
            "previous": previous.model_dump(mode="json"),
            "started": time.time(),
            "promote": promote,
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

    def advance(self, endpoint: str, step: str, revision: int) -> None:
        """Record that ``step`` saved config ``revision`` (atomic: the entry is replaced)."""
        path = self._path(endpoint)
        raw: dict[str, Any] = json.loads(path.read_text())
        _write_json(path, {**raw, "step": step, "revision": revision})

    def end(self, endpoint: str, outcome: dict[str, Any] | None = None) -> None:
        """Remove the entry, keeping ``outcome`` (a "Deployment Step" detail) as how it ended."""
        if outcome is not None:
            _write_json(self.folder / "settled" / self._path(endpoint).name, outcome)
        self._path(endpoint).unlink(missing_ok=True)

    def last(self, endpoint: str) -> dict[str, Any] | None:
        """How the last settled deployment to ``endpoint`` ended, if one was recorded."""
        try:
            found: dict[str, Any] = json.loads(
                (self.folder / "settled" / self._path(endpoint).name).read_text()
            )
        except FileNotFoundError:
            return None
        return found

    def get(self, endpoint: str) -> InFlight | None:
        path = self._path(endpoint)
        try:
            raw: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        revision = raw.get("revision")
        return InFlight(
            str(raw["endpoint"]),
            int(raw["version"]),
            Owner.from_dict(raw["owner"]),
            validate_config(raw["previous"]),
            float(raw["started"]),
            raw.get("step"),
            None if revision is None else int(revision),
            bool(raw.get("promote", True)),
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
    registry: ModelRegistry | None = None,
) -> list[dict[str, Any]]:
    """Settle every in-flight deployment (of ``endpoint``, or all) whose owner is gone, through
    ``store``: rolled back, or completed when its final config was saved and ``registry`` is
    given to finish the promotion; the details of the "Deployment Step" events it emitted."""
    journal = DeployJournal(workspace)
    found = journal.list() if endpoint is None else [journal.get(endpoint)]
    recovered = []
    for entry in found:
        if entry is None or not entry.owner.gone():  # running, or on a host we cannot see
            continue
        where = f"at {entry.step} (revision {entry.revision})" if entry.step else "at its start"
        why = f"interrupted {where}: {entry.owner}, which was deploying v{entry.version}, is gone"
        if entry.step == FINAL_STEP and registry is not None:
            if entry.promote:
                promote(registry, entry.previous.model_name, entry.version)
            current = store.get(entry.endpoint)
            detail = step_detail(FINAL_STEP, current, entry.version, reason=f"{why}; finished")
        else:
            restored = store.save(entry.previous)
            detail = step_detail("rolled_back", restored, entry.version, reason=why)
        events.emit(SOURCE, "Deployment Step", detail)
        journal.end(entry.endpoint, detail)
        log.warning("deployment to %s settled as %s: %s", entry.endpoint, detail["step"], why)
        recovered.append(detail)
    return recovered


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
