"""The registry contract. Callers cannot tell the local (MLflow) registry from another one."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.errors import NotFoundError

if TYPE_CHECKING:
    from driftloop.events.base import EventBus

REGISTRY_SOURCE = "driftloop.registry"
CHAMPION = "champion"
CHALLENGER = "challenger"

PENDING = "PendingManualApproval"
APPROVED = "Approved"
REJECTED = "Rejected"

# Version tag keys.
APPROVAL_TAG = "approval_status"
GATE_TAG = "gate_status"
GATE_REPORT_TAG = "gate_report"
BASELINE_TAG = "baseline_uri"
TRAIN_SNAPSHOT_TAG = "train_snapshot"
THRESHOLD_TAG = "decision_threshold"
BASE_SNAPSHOT_TAG = "base_snapshot"  # a retrain's original training data (no captured rows)
UNTIL_TAG = "captured_until"  # "<time> <row key>": a retrain trained on no captured row from here


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model, with its tags and aliases."""

    name: str
    version: int
    run_id: str
    source: str
    created_ms: int
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def approval(self) -> str:
        return self.tags.get(APPROVAL_TAG, PENDING)

    @property
    def gate_status(self) -> str:
        return self.tags.get(GATE_TAG, "unknown")

    @property
    def baseline_uri(self) -> str | None:
        return self.tags.get(BASELINE_TAG)

    @property
    def train_snapshot(self) -> str | None:
        return self.tags.get(TRAIN_SNAPSHOT_TAG)


class ModelRegistry(ABC):
    """Versions of named models, their tags and aliases, and loading them.

    Every method that takes a name and version raises
    :class:`~driftloop.errors.ModelNotFound` when the model or version does not exist.

    A registry built by the backend announces each registration and approval or alias change
    on its event bus (as SageMaker's registry tells EventBridge); one built without a bus
    announces nothing.
    """

    events: EventBus | None = None
    """Where :meth:`announce` puts events."""

    def announce(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Put a ``driftloop.registry`` event on the bus, when there is one."""
        if self.events is not None:
            self.events.emit(REGISTRY_SOURCE, detail_type, detail)

    @abstractmethod
    def create_version(
        self, name: str, model_uri: str, run_id: str, tags: dict[str, str]
    ) -> ModelVersion:
        """Register ``model_uri`` as the next version of ``name`` (created if new), with tags."""

    @abstractmethod
    def get_version(self, name: str, version: int) -> ModelVersion:
        """The version, with current tags and aliases."""

    @abstractmethod
    def get_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version ``alias`` points to, or None when the alias (or model) is unset."""

    @abstractmethod
    def list_versions(self, name: str) -> list[ModelVersion]:
        """All versions, oldest first; empty when the model does not exist."""

    @abstractmethod
    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        """Set (overwrite) tags on a version."""

    @abstractmethod
    def set_alias(self, name: str, alias: str, version: int) -> None:
        """Point ``alias`` at ``version``, moving it from any other version."""

    @abstractmethod
    def delete_alias(self, name: str, alias: str) -> None:
        """Remove ``alias``; removing an unset alias is not an error."""

    @abstractmethod
    def delete_version(self, name: str, version: int) -> None:
        """Delete a version (used to undo a registration that failed half-way)."""

    @abstractmethod
    def load_model(self, name: str, version: int) -> Any:
        """The version's fitted scikit-learn pipeline."""

    def run_artifacts(self, name: str, version: int, folder: str = "") -> list[str]:
        """Paths (relative to the run, sorted) of the files its training run logged under
        ``folder`` (``plots`` holds the training plots); empty when there are none or the
        run is gone. A registry that keeps no run artifacts lists none."""
        self.get_version(name, version)
        return []

    def run_artifact(self, name: str, version: int, path: str) -> bytes:
        """The bytes of one file the version's training run logged (a path that
        :meth:`run_artifacts` lists); :class:`~driftloop.errors.NotFoundError` when there is
        no such file."""
        self.get_version(name, version)
        raise NotFoundError(f"model '{name}' version {version} has no run artifact '{path}'")
