"""Load servable models: from the workspace registry, or from a SageMaker model directory.

Models never load from a path given in a request: only registry references from the endpoint
config, or the container's model directory chosen at start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from driftloop.data.spec import TabularSpec
from driftloop.errors import ModelNotFound
from driftloop.registry.base import ModelRegistry
from driftloop.serving.compiled import (
    Batch,
    PipelinePredictor,
    UnsupportedPipeline,
    compile_pipeline,
)
from driftloop.serving.endpoint_config import EndpointConfig, Shadow, Variant

log = logging.getLogger(__name__)


class Predictor(Protocol):
    def predict_proba(self, batch: Batch) -> np.ndarray: ...

    def unseen_counts(self, batch: Batch) -> dict[str, int]: ...


@dataclass(frozen=True)
class ServedModel:
    """A loaded model version with its input spec and decision threshold."""

    model_name: str
    version: str
    spec: TabularSpec
    threshold: float
    predictor: Predictor


def predictor_for(pipeline: Any, spec: TabularSpec) -> Predictor:
    """The compiled fast path when the pipeline's shape is known, else the pipeline itself."""
    try:
        return compile_pipeline(pipeline, spec)
    except UnsupportedPipeline as exc:
        log.warning("serving the pipeline without the fast path: %s", exc)
        return PipelinePredictor(pipeline, spec)


def resolve_version(registry: ModelRegistry, model_name: str, ref: str) -> int:
    """A version number from ``ref``: a number, or an alias such as ``champion``."""
    if ref.isdigit():
        return registry.get_version(model_name, int(ref)).version
    found = registry.get_by_alias(model_name, ref)
    if found is None:
        raise ModelNotFound(f"model '{model_name}' has no alias '{ref}'")
    return found.version


def check_references(registry: ModelRegistry, config: EndpointConfig) -> dict[str, int]:
    """The version each variant (and the shadow) of ``config`` serves now;
    :class:`ModelNotFound` naming the first variant whose model reference does not resolve."""
    variants: list[Variant | Shadow] = [
        *config.variants,
        *([config.shadow] if config.shadow else []),
    ]
    versions = {}
    for variant in variants:
        try:
            versions[variant.name] = resolve_version(registry, config.model_name, variant.model)
        except ModelNotFound as exc:
            raise ModelNotFound(
                f"endpoint '{config.name}', variant '{variant.name}': {exc.message} "
                "(`driftloop models list` shows the versions, their gates and aliases)",
                details={"variant": variant.name, "model": variant.model},
            ) from None
    return versions


def load_registered(registry: ModelRegistry, model_name: str, version: int) -> ServedModel:
    """Load ``model_name`` version ``version`` from the registry."""
    import mlflow

    uri = f"models:/{model_name}/{version}"
    metadata = mlflow.models.get_model_info(uri).metadata or {}
    pipeline = registry.load_model(model_name, version)
    return _served(model_name, str(version), pipeline, metadata, uri)


def load_model_dir(path: Path) -> ServedModel:
    """Load the MLflow model in a SageMaker model directory (``/opt/ml/model``)."""
    import mlflow

    if not (path / "MLmodel").is_file():
        raise ModelNotFound(f"no MLflow model (MLmodel file) in {path}")
    metadata = mlflow.models.Model.load(str(path / "MLmodel")).metadata or {}
    pipeline = mlflow.sklearn.load_model(str(path))
    return _served(path.name, metadata.get("driftloop_version", "local"), pipeline, metadata, path)


def _served(
    name: str, version: str, pipeline: Any, metadata: dict[str, Any], where: object
) -> ServedModel:
    if "driftloop_spec" not in metadata:
        raise ModelNotFound(f"{where} was not trained by driftloop (no input spec in its metadata)")
    spec = TabularSpec.from_dict(metadata["driftloop_spec"])
    threshold = float(metadata.get("driftloop_threshold", 0.5))
    return ServedModel(name, version, spec, threshold, predictor_for(pipeline, spec))
