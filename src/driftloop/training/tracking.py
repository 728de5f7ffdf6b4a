"""MLflow wiring: the workspace's SQLite store and artifact folder."""

from __future__ import annotations

import logging

import mlflow

from driftloop.sqlite_db import reported
from driftloop.workspace import Workspace


def configure(workspace: Workspace) -> None:
    """Point MLflow tracking and the registry at the workspace (created if missing)."""
    workspace.ensure()
    mlflow.set_tracking_uri(workspace.tracking_uri)
    mlflow.set_registry_uri(workspace.tracking_uri)
    # MLflow narrates migrations and registrations at INFO; our CLI says what matters.
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def experiment_id(workspace: Workspace, name: str, artifact_root: str | None = None) -> str:
    """The id of experiment ``name``, created with its artifacts under ``artifact_root``
    (default: inside the workspace). An existing experiment keeps the location it has."""
    configure(workspace)
    with reported(workspace.mlflow_db, waited=0):  # a damaged store is one sentence, not a trace
        found = mlflow.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = artifact_root or workspace.artifacts.resolve().as_uri()
        return str(mlflow.create_experiment(name, artifact_location=location))
