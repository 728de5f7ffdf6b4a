"""The metric store on CloudWatch: PutMetricData, GetMetricData and ListMetrics.

A datapoint is written as a statistic set (SampleCount, Sum, Minimum, Maximum) with
StorageResolution 1, and CloudWatch adds up what several writers send for one timestamp, so
writes merge as the contract asks. What does not come back:

- the distribution: CloudWatch answers statistics, never the values behind them (and moto
  5.2.5 computes no percentiles), so it is not sent and reads carry none; percentiles of these
  metrics are not available on CloudWatch;
- the unit: GetMetricData does not return it, so reads say ``"None"``;
- the finest resolution of old data: CloudWatch keeps 10-second data for 3 hours, then
  1-minute data for 15 days, 5-minute for 63 days and hourly after that, so a read uses the
  finest period still kept for its oldest requested time.

CloudWatch refuses PutMetricData in namespaces beginning with ``AWS/``: on AWS those metrics
(SageMaker's invocations and latencies) come from the service itself.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from driftloop.backends.aws._clients import call, client, translated
from driftloop.config import Settings
from driftloop.metrics.base import Datapoint, MetricStore, dimensions_key

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends

MAX_DATUMS = 1000
"""PutMetricData takes at most 1000 metrics per request ..."""
MAX_BYTES = 500_000
"""... and 1 MB; this budget counts a datum's JSON, which is larger than its CBOR."""
FUTURE_S = 2 * 3600
"""CloudWatch takes timestamps up to two hours ahead."""
_KEPT = ((3 * 3600, 10), (15 * 86400, 60), (63 * 86400, 300))
"""(age in seconds, the finest period CloudWatch keeps for data younger); older: hourly."""
_STATS = ("SampleCount", "Sum", "Minimum", "Maximum")


def dimension_list(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    """Dimensions as CloudWatch takes them, sorted by name."""
    return [{"Name": name, "Value": value} for name, value in sorted(dimensions.items())]


def windows(since: int, end: int, now: int) -> list[tuple[int, int, int]]:
    """``(start, end, period)`` pieces of ``[since, end)``, newest first, each at the finest
    period CloudWatch keeps for data of that age; boundaries fall on hours."""
    pieces = []
    for age, period in _KEPT:
        boundary = -(-(now - age) // 3600) * 3600
        start = max(since, boundary) // period * period
        if start < end:
            pieces.append((start, end, period))
        if start <= since:
            return pieces
        end = min(end, start)
    start = since // 3600 * 3600
    return [*pieces, (start, end, 3600)] if start < end else pieces


def _datum(point: Datapoint) -> dict[str, Any]:
    return {
        "MetricName": point.metric,
        "Dimensions": dimension_list(point.dimensions),
        "Timestamp": datetime.fromtimestamp(point.timestamp, UTC),
        "StatisticValues": {
            "SampleCount": point.count,
            "Sum": point.sum,
            "Minimum": point.min,
            "Maximum": point.max,
        },
        "Unit": point.unit,
        "StorageResolution": 1,
    }


def batches(points: Iterable[Datapoint]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """``(namespace, datums)`` per PutMetricData request, within its limits."""
    by_namespace: dict[str, list[Datapoint]] = defaultdict(list)
    for point in points:
        by_namespace[point.namespace].append(point)
    for namespace, group in by_namespace.items():
        batch: list[dict[str, Any]] = []
        size = 0
        for datum in map(_datum, group):
            datum_size = len(json.dumps(datum, default=str))
            if batch and (len(batch) == MAX_DATUMS or size + datum_size > MAX_BYTES):
                yield namespace, batch
                batch, size = [], 0
            batch.append(datum)
            size += datum_size
        if batch:
            yield namespace, batch


class CloudWatchMetricStore(MetricStore):
    """Datapoints in CloudWatch metrics of the configured region."""

    def __init__(self, settings: Settings, stores: Backends) -> None:
        self.cloudwatch = client(settings, "cloudwatch")

    def put_metric_data(self, datapoints: Iterable[Datapoint]) -> None:
        """All or none only within one request (one namespace, at most 1000 datapoints):
        CloudWatch has no transaction across requests, so a failed request leaves the earlier
        ones written."""
        for namespace, datums in batches(datapoints):
            what = f"namespace {namespace}"
            put = self.cloudwatch.put_metric_data
            call("cloudwatch", put, what, Namespace=namespace, MetricData=datums)

    def get_metric_data(
        self,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, str],
        *,
        since: int = 0,
        until: int | None = None,
    ) -> list[Datapoint]:
        """10-second datapoints while CloudWatch keeps them, coarser ones before (see the
        module), without distribution or unit."""
        now = int(time.time())
        end = now + FUTURE_S if until is None else until
        identity = {
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimension_list(dimensions),
        }
        stats: dict[int, dict[str, float]] = defaultdict(dict)
        with translated("cloudwatch", "GetMetricData", f"{namespace} {metric}"):
            for window in windows(since, end, now):
                for stamp, stat, value in self._read(identity, *window):
                    stats[stamp][stat] = value
        return [
            Datapoint(namespace, metric, dict(dimensions), stamp, "None", *_values(found))
            for stamp, found in sorted(stats.items())
            if since <= stamp < end and len(found) == len(_STATS)
        ]

    def _read(
        self, identity: dict[str, Any], start: int, end: int, period: int
    ) -> Iterator[tuple[int, str, float]]:
        """``(timestamp, statistic id, value)`` of one metric's periods in ``[start, end)``."""
        queries = [
            {"Id": stat.lower(), "MetricStat": {"Metric": identity, "Period": period, "Stat": stat}}
            for stat in _STATS
        ]
        pages = self.cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=queries,
            StartTime=datetime.fromtimestamp(start, UTC),
            EndTime=datetime.fromtimestamp(end, UTC),
            ScanBy="TimestampAscending",
        )
        for page in pages:
            for result in page["MetricDataResults"]:
                for stamp, value in zip(result["Timestamps"], result["Values"], strict=True):
                    yield int(stamp.timestamp()), result["Id"], float(value)

    def list_dimensions(self, namespace: str, metric: str) -> list[dict[str, str]]:
        """ListMetrics lists a metric up to 15 minutes after its first datapoint, and only
        while it has datapoints from the last two weeks."""
        pages = self.cloudwatch.get_paginator("list_metrics").paginate(
            Namespace=namespace, MetricName=metric
        )
        found: dict[str, dict[str, str]] = {}
        with translated("cloudwatch", "ListMetrics", f"{namespace} {metric}"):
            for page in pages:
                for item in page["Metrics"]:
                    dims = {d["Name"]: d["Value"] for d in item.get("Dimensions", [])}
                    found[dimensions_key(dims)] = dims
        return list(found.values())

    def prune(self, before: int) -> int:
        """Not honoured: CloudWatch deletes no datapoints on request; it expires them by its
        own retention (the module says how long). Deletes nothing and returns 0."""
        return 0


def _values(found: dict[str, float]) -> tuple[float, float, float, float]:
    """(sum, count, min, max) of one period's statistics."""
    return found["sum"], found["samplecount"], found["minimum"], found["maximum"]
