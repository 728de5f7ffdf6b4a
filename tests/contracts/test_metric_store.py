"""The metric store contract (PutMetricData, GetMetricData, ListMetrics)."""

from __future__ import annotations

from driftloop.backends.catalog import Backends
from driftloop.metrics.base import Datapoint

STORES = ("metrics",)
"""The stores these tests exercise: they run for every backend kind that builds them."""

DIMS = {"EndpointName": "churn", "VariantName": "A"}


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


def test_writes_to_one_bucket_merge(backends: Backends) -> None:
    store = backends.metrics
    store.put_metric_data([_point(600, 100.0)])
    store.put_metric_data([_point(600, 300.0), _point(610, 5.0)])
    first, second = store.get_metric_data("AWS/SageMaker", "ModelLatency", DIMS)
    assert (first.timestamp, first.sum, first.count, first.min, first.max) == (
        600,
        400.0,
        2,
        100.0,
        300.0,
    )
    assert first.distribution == {"1e+02": 1, "3e+02": 1} and second.timestamp == 610


def test_reads_match_exact_dimensions_and_a_half_open_range(backends: Backends) -> None:
    store = backends.metrics
    store.put_metric_data([_point(t, 1.0) for t in (600, 610, 620)])
    store.put_metric_data([_point(600, 9.0, {"EndpointName": "churn"})])
    read = store.get_metric_data
    assert [p.timestamp for p in read("AWS/SageMaker", "ModelLatency", DIMS, since=610)] == [
        610,
        620,
    ]
    assert [p.timestamp for p in read("AWS/SageMaker", "ModelLatency", DIMS, until=620)] == [
        600,
        610,
    ]
    assert [p.max for p in read("AWS/SageMaker", "ModelLatency", {"EndpointName": "churn"})] == [
        9.0
    ]
    assert read("AWS/SageMaker", "Invocations", DIMS) == []  # never written: empty, no error


def test_dimension_sets_and_pruning(backends: Backends) -> None:
    store = backends.metrics
    assert store.list_dimensions("AWS/SageMaker", "ModelLatency") == []
    store.put_metric_data([_point(600, 1.0), _point(700, 1.0, {"EndpointName": "churn"})])
    found = store.list_dimensions("AWS/SageMaker", "ModelLatency")
    assert sorted(found, key=len) == [{"EndpointName": "churn"}, DIMS]  # in no stated order
    assert store.prune(650) == 1
    assert [
        p.timestamp
        for p in store.get_metric_data("AWS/SageMaker", "ModelLatency", {"EndpointName": "churn"})
    ] == [700]
