"""The registry on MLflow's model registry (the workspace's SQLite store by default).

Model names pass :func:`driftloop.names.safe_name` before they are registered or reach a
``models:/`` URI. When MLflow's SQLite file is locked by another process past MLflow's busy
timeout, or is not a database, every method says so in one sentence naming the file.
"""

from __future__ import annotations

import functools
import logging
import posixpath
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, Concatenate, ParamSpec, TypeVar

import mlflow
from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from driftloop.errors import ModelNotFound, NotFoundError
from driftloop.events.base import EventBus
from driftloop.names import safe_name
from driftloop.registry.base import ModelRegistry, ModelVersion
from driftloop.sqlite_db import reported
from driftloop.training import tracking
from driftloop.workspace import Workspace

P = ParamSpec("P")
R = TypeVar("R")


def _convert(found: MlflowVersion) -> ModelVersion:
    return ModelVersion(
        name=found.name,
        version=int(found.version),
        run_id=found.run_id or "",
        source=found.source or "",
        created_ms=int(found.creation_timestamp or 0),
        tags=dict(found.tags or {}),
        aliases=tuple(found.aliases or ()),
    )


def _not_found(exc: MlflowException) -> bool:
    return exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def _reported(
    method: Callable[Concatenate[MlflowRegistry, P], R],
) -> Callable[Concatenate[MlflowRegistry, P], R]:
    def call(self: MlflowRegistry, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with reported(self.db, waited=0):  # MLflow has its own busy timeouts
            return method(self, *args, **kwargs)

    functools.update_wrapper(call, method)
    return call


class MlflowRegistry(ModelRegistry):
    """:class:`ModelRegistry` backed by an MLflow tracking/registry store."""

    def __init__(self, workspace: Workspace, events: EventBus | None = None) -> None:
        self.events = events
        self.db = workspace.mlflow_db
        tracking.configure(workspace)
        # MLflow logs a locked store with a traceback; the error below says it in one sentence
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
        with reported(self.db, waited=0):
            self._client = MlflowClient(workspace.tracking_uri, workspace.tracking_uri)

    @_reported
    def create_version(
        self, name: str, model_uri: str, run_id: str, tags: dict[str, str]
    ) -> ModelVersion:
        safe_name(name, "model")
        try:
            self._client.get_registered_model(name)
        except MlflowException as exc:
            if not _not_found(exc):
                raise
            self._client.create_registered_model(name)
        created = self._client.create_model_version(name, model_uri, run_id=run_id, tags=tags)
        return self.get_version(name, int(created.version))

    @_reported
    def get_version(self, name: str, version: int) -> ModelVersion:
        try:
            return _convert(self._client.get_model_version(name, str(version)))
        except MlflowException as exc:
            if _not_found(exc):
                raise ModelNotFound(f"model '{name}' has no version {version}") from None
            raise

    @_reported
    def get_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        try:
            return _convert(self._client.get_model_version_by_alias(name, alias))
        except MlflowException as exc:
            if _not_found(exc):
                return None
            raise

    @_reported
    def list_versions(self, name: str) -> list[ModelVersion]:
        found = self._client.search_model_versions(f"name = '{_quote(name)}'")
        versions = [self.get_version(name, int(v.version)) for v in found]
        return sorted(versions, key=lambda v: v.version)

    @_reported
    def set_tags(self, name: str, version: int, tags: dict[str, str]) -> None:
        self.get_version(name, version)
        for key, value in tags.items():
            self._client.set_model_version_tag(name, str(version), key, value)

    @_reported
    def set_alias(self, name: str, alias: str, version: int) -> None:
        self.get_version(name, version)
        self._client.set_registered_model_alias(name, alias, str(version))

    @_reported
    def delete_alias(self, name: str, alias: str) -> None:
        try:
            self._client.delete_registered_model_alias(name, alias)
        except MlflowException as exc:
            if not _not_found(exc):
                raise

    @_reported
    def delete_version(self, name: str, version: int) -> None:
        self.get_version(name, version)  # ModelNotFound, as the contract says
        self._client.delete_model_version(name, str(version))

    @_reported
    def load_model(self, name: str, version: int) -> Any:
        self.get_version(safe_name(name, "model"), version)
        return mlflow.sklearn.load_model(f"models:/{name}/{version}")

    @_reported
    def run_artifacts(self, name: str, version: int, folder: str = "") -> list[str]:
        run_id = self.get_version(name, version).run_id
        if not run_id or not _safe(folder or "."):
            return []
        found: list[str] = []
        pending = [folder.strip("/") or None]
        try:
            while pending:
                for entry in self._client.list_artifacts(run_id, pending.pop()):
                    (pending.append(entry.path) if entry.is_dir else found.append(entry.path))
        except MlflowException as exc:
            if _not_found(exc):
                return []
            raise
        return sorted(found)

    @_reported
    def run_artifact(self, name: str, version: int, path: str) -> bytes:
        run_id = self.get_version(name, version).run_id
        missing = NotFoundError(f"model '{name}' version {version} has no run artifact '{path}'")
        parent = posixpath.dirname(path)
        if not run_id or not _safe(path) or path not in self.run_artifacts(name, version, parent):
            raise missing
        with tempfile.TemporaryDirectory() as tmp:
            local = self._client.download_artifacts(run_id, path, tmp)
            return Path(local).read_bytes()


def _safe(path: str) -> bool:
    """A relative path inside the run (no ``..``, not absolute)."""
    return not path.startswith("/") and ".." not in PurePosixPath(path).parts


def _quote(name: str) -> str:
    return name.replace("'", "\\'")
