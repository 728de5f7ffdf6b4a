"""The CloudWatch metric store's requests: PutMetricData batches and GetMetricData windows."""

from __future__ import annotations

import json
from itertools import pairwise

from driftloop.backends.aws.metrics import MAX_BYTES, MAX_DATUMS, batches, windows
from driftloop.metrics.base import Datapoint

NOW = 1_800_000_000


def _point(namespace: str, timestamp: int, value: str = "A") -> Datapoint:
    return Datapoint(namespace, "m", {"V": value}, timestamp, "None", 1.0, 1, 1.0, 1.0)


def test_each_request_holds_one_namespace_within_cloudwatchs_limits() -> None:
    points = [_point("a", t) for t in range(2500)] + [_point("b", 0)]
    sizes = [(namespace, len(datums)) for namespace, datums in batches(points)]
    assert sizes == [("a", MAX_DATUMS), ("a", MAX_DATUMS), ("a", 500), ("b", 1)]
    big = [_point("a", t, "x" * 1000) for t in range(1000)]  # about 1.2 MB of datums
    sizes = [sum(len(json.dumps(d, default=str)) for d in datums) for _, datums in batches(big)]
    assert len(sizes) == 3 and max(sizes) <= MAX_BYTES


def test_a_datum_is_a_high_resolution_statistic_set_with_sorted_dimensions() -> None:
    point = Datapoint("a", "m", {"b": "2", "a": "1"}, NOW, "Count", 6.0, 3, 1.0, 3.0, {"1": 3})
    ((_, (datum,)),) = batches([point])
    assert datum["Dimensions"] == [{"Name": "a", "Value": "1"}, {"Name": "b", "Value": "2"}]
    assert datum["StatisticValues"] == {
        "SampleCount": 3,
        "Sum": 6.0,
        "Minimum": 1.0,
        "Maximum": 3.0,
    }
    assert (datum["StorageResolution"], datum["Timestamp"].timestamp()) == (1, NOW)
    assert "Values" not in datum  # CloudWatch never gives a distribution back


def test_reads_use_the_finest_period_cloudwatch_keeps_for_each_age() -> None:
    assert windows(NOW - 600, NOW, NOW) == [(NOW - 600, NOW, 10)]
    pieces = windows(0, NOW, NOW)
    assert [period for *_, period in pieces] == [10, 60, 300, 3600]
    assert pieces[-1][0] == 0 and pieces[0][1] == NOW
    assert all(older[1] == newer[0] for newer, older in pairwise(pieces))
    assert NOW - 3 * 3600 <= pieces[0][0] < NOW - 3 * 3600 + 3600
    assert windows(NOW, NOW - 10, NOW) == []
