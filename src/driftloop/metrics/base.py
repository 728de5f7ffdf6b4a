"""The metric store contract (CloudWatch's PutMetricData, GetMetricData, ListMetrics) and its
datapoint.

A datapoint is (namespace, metric, dimensions, timestamp, sum, count, min, max) plus, for latency
metrics, a compact distribution (value bucket -> count) so percentiles can be computed later.
The timestamp starts the datapoint's bucket: endpoints write high-resolution 10-second buckets
(CloudWatch's high-resolution metrics), monitoring jobs one point per run. Writes merge into
existing datapoints: two workers reporting the same bucket add up.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RESOLUTION_S = 10  # finest bucket: CloudWatch's high-resolution alarms take 10 or 30 s periods


def dimensions_key(dimensions: Mapping[str, str]) -> str:
    """Dimensions as a canonical JSON object (sorted keys)."""
    return json.dumps(dict(sorted(dimensions.items())), separators=(",", ":"))


@dataclass
class Datapoint:
    namespace: str
    metric: str
    dimensions: dict[str, str]
    timestamp: int  # unix time of the bucket's start, in seconds
    unit: str
    sum: float
    count: float
    min: float
    max: float
    distribution: dict[str, float] = field(default_factory=dict)

    def merge(self, other: Datapoint) -> None:
        self.sum += other.sum
        self.count += other.count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        for bucket, count in other.distribution.items():
            self.distribution[bucket] = self.distribution.get(bucket, 0.0) + count


class MetricStore(ABC):
    """Where datapoints are kept. Reads of a metric nobody wrote return nothing, never raise."""

    @abstractmethod
    def put_metric_data(self, datapoints: Iterable[Datapoint]) -> None:
        """Merge ``datapoints`` into the store, all or none (CloudWatch's PutMetricData)."""

    @abstractmethod
    def get_metric_data(
        self,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, str],
        *,
        since: int = 0,
        until: int | None = None,
    ) -> list[Datapoint]:
        """Datapoints of one metric with exactly these dimensions and
        ``since <= timestamp < until``, oldest first; empty when there are none."""

    @abstractmethod
    def list_dimensions(self, namespace: str, metric: str) -> list[dict[str, str]]:
        """The distinct dimension sets stored for one metric, in no stated order (CloudWatch's
        ListMetrics)."""

    @abstractmethod
    def prune(self, before: int) -> int:
        """Delete datapoints whose timestamp is before ``before``; returns how many."""
