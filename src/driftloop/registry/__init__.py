"""Model registry: versions, aliases and tags; the promotion gate; approval."""

from driftloop.registry.base import (
    APPROVED,
    CHALLENGER,
    CHAMPION,
    PENDING,
    REJECTED,
    ModelRegistry,
    ModelVersion,
)

__all__ = [
    "APPROVED",
    "CHALLENGER",
    "CHAMPION",
    "PENDING",
    "REJECTED",
    "ModelRegistry",
    "ModelVersion",
]
