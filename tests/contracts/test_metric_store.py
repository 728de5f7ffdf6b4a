"""The metric store contract (PutMetricData, GetMetricData, ListMetrics).

Timestamps are recent, as CloudWatch takes them (two weeks back at most) and keeps them at
10-second resolution (the last three hours).
"""

from __future__ import annotations

import time

from driftloop.backends.catalog import Backends
from driftloop.metrics.base import Datapoint

STORES = ("metrics",)
"""The stores these tests exercise: they run for every backend kind that builds them."""

KEEPS_DISTRIBUTIONS = {"local"}
"""Kinds that read back the value distribution; CloudWatch answers statistics only."""
PRUNES = {"local"}
"""Kinds whose ``prune`` deletes; CloudWatch expires datapoints by its own retention."""

DIMS = {"EndpointName": "churn", "VariantName": "A"}
T = int(time.time()) // 600 * 600 - 1200
"""A 10-minute boundary, 20 to 30 minutes ago."""


def _point(timestamp: int, value: float, dims: dict[str, str] = DIMS) -> Datapoint:
    return Datapoint(
        "AWS/SageMaker",
        "ModelLatency",
        dict(dims),
        timestamp,
        "Microseconds",
        value,
        1,
        value,
        value,
        {f"{value:.2g}": 1},
    )


def _stamps(points: list[Datapoint]) -> list[int]:
    return [p.timestamp - T for p in points]


def test_writes_to_one_bucket_merge(backends: Backends) -> None:
    store = backends.metrics
    store.put_metric_data([_point(T, 100.0)])
    store.put_metric_data([_point(T, 300.0), _point(T + 10, 5.0)])
    first, second = store.get_metric_data("AWS/SageMaker", "ModelLatency", DIMS)
    assert (first.timestamp, first.sum, first.count, first.min, first.max) == (
        T,
        400.0,
        2,
        100.0,
        300.0,
    )
    assert second.timestamp == T + 10
    kept = backends.kind in KEEPS_DISTRIBUTIONS
    assert first.distribution == ({"1e+02": 1, "3e+02": 1} if kept else {})


def test_reads_match_exact_dimensions_and_a_half_open_range(backends: Backends) -> None:
    store = backends.metrics
    store.put_metric_data([_point(T + t, 1.0) for t in (0, 10, 20)])
    store.put_metric_data([_point(T, 9.0, {"EndpointName": "churn"})])
    read = store.get_metric_data
    assert _stamps(read("AWS/SageMaker", "ModelLatency", DIMS, since=T + 10)) == [10, 20]
    assert _stamps(read("AWS/SageMaker", "ModelLatency", DIMS, until=T + 20)) == [0, 10]
    assert [p.max for p in read("AWS/SageMaker", "ModelLatency", {"EndpointName": "churn"})] == [
        9.0
    ]
    assert read("AWS/SageMaker", "Invocations", DIMS) == []  # never written: empty, no error


def test_dimension_sets_and_pruning(backends: Backends) -> None:
    store = backends.metrics
    assert store.list_dimensions("AWS/SageMaker", "ModelLatency") == []
    store.put_metric_data([_point(T, 1.0), _point(T + 100, 1.0, {"EndpointName": "churn"})])
    found = store.list_dimensions("AWS/SageMaker", "ModelLatency")
    assert sorted(found, key=len) == [{"EndpointName": "churn"}, DIMS]  # in no stated order
    prunes = backends.kind in PRUNES
    assert store.prune(T + 50) == (1 if prunes else 0)
    read = store.get_metric_data
    assert _stamps(read("AWS/SageMaker", "ModelLatency", DIMS)) == ([] if prunes else [0])
    assert _stamps(read("AWS/SageMaker", "ModelLatency", {"EndpointName": "churn"})) == [100]
