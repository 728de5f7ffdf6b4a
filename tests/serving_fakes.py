"""Tiny stand-in models for driving the endpoint without training: one sums, one fails."""

from __future__ import annotations

import numpy as np

from driftloop.data.codecs import RowReader
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.serving.compiled import Batch
from driftloop.serving.endpoint_config import Capture, Fault
from driftloop.serving.models import ServedModel
from driftloop.serving.routing import Route, RoutingTable

SPEC = TabularSpec(
    columns=(
        ColumnSpec("id", "categorical", "id"),
        ColumnSpec("x", "numeric"),
        ColumnSpec("y", "numeric"),
        ColumnSpec("c", "categorical"),
        ColumnSpec("label", "categorical", "target"),
    ),
    target="label",
    positive_label="yes",
    negative_label="no",
)


class Summing:
    """Probability = (x + y) / 100, clipped; counts category values other than a/b as unseen."""

    def predict_proba(self, batch: Batch) -> np.ndarray:
        return np.clip(np.nansum(batch.numeric, axis=1) / 100.0, 0.0, 1.0)

    def unseen_counts(self, batch: Batch) -> dict[str, int]:
        return {"c": sum(v not in (None, "a", "b") for v in batch.categorical[0])}


class Failing(Summing):
    def predict_proba(self, batch: Batch) -> np.ndarray:
        raise RuntimeError("model exploded")


def route(
    name: str,
    predictor: object,
    version: str = "1",
    weight: float = 1.0,
    fault: Fault | None = None,
) -> Route:
    model = ServedModel("fake", version, SPEC, 0.5, predictor)  # type: ignore[arg-type]
    return Route(name, model, RowReader(SPEC), weight, fault)


def table(
    *routes: Route, shadow: Route | None = None, capture: Capture | None = None
) -> RoutingTable:
    return RoutingTable(
        "fake-endpoint",
        1,
        routes,
        capture or Capture(),
        shadow=shadow,
        shadow_percent=100.0 if shadow else 0.0,
    )
