"""Endpoint metrics: Prometheus counters and histograms, and CloudWatch-style datapoints.

Datapoints use SageMaker's names and units (``Invocations``, ``Invocation4XXErrors``,
``Invocation5XXErrors``, ``InvocationModelErrors``, ``ModelLatency`` and ``OverheadLatency`` in
microseconds) under the ``AWS/SageMaker`` namespace with ``EndpointName``/``VariantName``
dimensions, in high-resolution 10-second buckets so alarms may use 10 or 30-second periods.
Each worker sums in memory and merges into the workspace metric store periodically.
"""

from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

from driftloop.metrics.base import RESOLUTION_S, Datapoint, MetricStore

NAMESPACE = "AWS/SageMaker"
_LABELS = ("endpoint", "variant")
_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)

INVOCATIONS = Counter("driftloop_invocations", "Invocation requests", _LABELS)
ERRORS_4XX = Counter("driftloop_invocation_4xx_errors", "Requests answered 4xx", _LABELS)
ERRORS_5XX = Counter("driftloop_invocation_5xx_errors", "Requests answered 5xx", _LABELS)
MODEL_ERRORS = Counter("driftloop_invocation_model_errors", "Requests the model failed", _LABELS)
CAPTURE_LOST = Counter(
    "driftloop_capture_lost_records", "Capture records a full disk dropped", _LABELS
)
SHADOW_ERRORS = Counter("driftloop_shadow_errors", "Shadow predictions that failed", _LABELS)
UNSEEN = Counter(
    "driftloop_unseen_category_values",
    "Category values not seen in training",
    (*_LABELS, "feature"),
)
MODEL_LATENCY = Histogram(
    "driftloop_model_latency_seconds", "Time spent in the model", _LABELS, buckets=_BUCKETS
)
OVERHEAD_LATENCY = Histogram(
    "driftloop_overhead_latency_seconds",
    "Request time outside the model (parsing, routing, capture, encoding)",
    _LABELS,
    buckets=_BUCKETS,
)


UNSENT_LIMIT = 50_000
"""Most datapoints a worker keeps while the metric store refuses them (hours of a busy endpoint)."""


def _bucket(value: float) -> str:
    return f"{value:.2g}"  # two significant digits: ~5% resolution for percentiles


class _Children:
    """One variant's labelled Prometheus series, looked up once (``labels()`` takes a lock)."""

    def __init__(self, endpoint: str, variant: str) -> None:
        labels = (endpoint, variant)
        self.invocations = INVOCATIONS.labels(*labels)
        self.errors_4xx = ERRORS_4XX.labels(*labels)
        self.errors_5xx = ERRORS_5XX.labels(*labels)
        self.model_errors = MODEL_ERRORS.labels(*labels)
        self.model_latency = MODEL_LATENCY.labels(*labels)
        self.overhead_latency = OVERHEAD_LATENCY.labels(*labels)


class EndpointMetrics:
    """Counts one endpoint's requests for Prometheus and for the metric store."""

    def __init__(self, endpoint: str, store: MetricStore | None) -> None:
        self.endpoint = endpoint
        self.store = store
        self._points: dict[tuple[str, str, int], Datapoint] = {}
        self._children: dict[str, _Children] = {}
        self._unsent: list[Datapoint] = []  # a failed flush's datapoints, sent with the next

    def record(
        self,
        variant: str,
        status: int,
        *,
        model_us: float | None,
        total_us: float,
        model_error: bool,
    ) -> None:
        """One answered request: its status and where its time went."""
        children = self._children.get(variant)
        if children is None:
            children = self._children[variant] = _Children(self.endpoint, variant)
        children.invocations.inc()
        client, server = 400 <= status < 500, status >= 500
        if client:
            children.errors_4xx.inc()
        if server:
            children.errors_5xx.inc()
        if model_error:
            children.model_errors.inc()
        bucket = int(time.time()) // RESOLUTION_S * RESOLUTION_S
        self._add("Invocations", variant, bucket, 1.0, "None")
        self._add("Invocation4XXErrors", variant, bucket, float(client), "None")
        self._add("Invocation5XXErrors", variant, bucket, float(server), "None")
        self._add("InvocationModelErrors", variant, bucket, float(model_error), "None")
        if model_us is not None:
            overhead_us = max(total_us - model_us, 0.0)
            children.model_latency.observe(model_us / 1e6)
            children.overhead_latency.observe(overhead_us / 1e6)
            self._add("ModelLatency", variant, bucket, model_us, "Microseconds", True)
            self._add("OverheadLatency", variant, bucket, overhead_us, "Microseconds", True)

    def unseen(self, variant: str, counts: dict[str, int]) -> None:
        for feature, count in counts.items():
            if count:
                UNSEEN.labels(self.endpoint, variant, feature).inc(count)

    def capture_lost(self, variant: str) -> None:
        CAPTURE_LOST.labels(self.endpoint, variant).inc()

    def shadow_error(self, variant: str) -> None:
        SHADOW_ERRORS.labels(self.endpoint, variant).inc()

    def _add(
        self, metric: str, variant: str, bucket: int, value: float, unit: str, dist: bool = False
    ) -> None:
        key = (metric, variant, bucket)
        point = self._points.get(key)
        if point is None:
            dims = {"EndpointName": self.endpoint, "VariantName": variant}
            point = Datapoint(NAMESPACE, metric, dims, bucket, unit, 0.0, 0.0, value, value)
            self._points[key] = point
        point.sum += value
        point.count += 1
        if value < point.min:
            point.min = value
        if value > point.max:
            point.max = value
        if dist:
            value_bucket = _bucket(value)
            point.distribution[value_bucket] = point.distribution.get(value_bucket, 0.0) + 1

    def take(self) -> list[Datapoint]:
        """Hand over everything counted since the last call."""
        points, self._points = list(self._points.values()), {}
        return points

    def flush(self) -> int:
        """Merge the counted datapoints into the metric store; returns how many were written.

        A store that refuses them (locked, a full disk, a cloud error) keeps nothing of the batch,
        so the datapoints are kept and sent with the next flush, the newest :data:`UNSENT_LIMIT`
        of them at most; the error is raised for the caller to log."""
        points = self._unsent + self.take()
        self._unsent = []
        if self.store is not None and points:
            try:
                self.store.put_metric_data(points)
            except Exception:
                self._unsent = points[-UNSENT_LIMIT:]
                raise
        return len(points)


def prometheus_text() -> tuple[bytes, str]:
    """Exposition text for all workers (multiprocess mode) or this process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        # prometheus_client (typed) leaves this constructor unannotated.
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
