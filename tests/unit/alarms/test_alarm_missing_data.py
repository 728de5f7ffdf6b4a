"""Alarm evaluation against the CloudWatch documentation's own tables and examples.

Source: the CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data",
section "How alarm state is evaluated when data is missing" (the same tables appear in older
versions of the page "Using Amazon CloudWatch alarms"). In the data points column, oldest first,
0 is a non-breaching data point, X a breaching one and - a missing one. CloudWatch "retrieves the
5 most recent data points" for these 3-period alarms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftloop.alarms.definition import AlarmDefinition, parse_alarm
from driftloop.alarms.evaluate import decide, evaluate, evaluation_range, retrieval_range
from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.metrics.base import Datapoint

PERIOD = 300  # the documented tables use 5-minute periods
MODES = ("missing", "ignore", "breaching", "notBreaching")
STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
KEEP = "Retain current state"

# First table: Datapoints to Alarm and Evaluation Periods are both 3.
THREE_OF_THREE = [
    ("0 - X - X", ["OK", "OK", "OK", "OK"]),
    ("0 - - - -", ["OK", "OK", "OK", "OK"]),
    ("- - - - -", ["INSUFFICIENT_DATA", KEEP, "ALARM", "OK"]),
    ("0 X X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
    ("- - - - X", ["INSUFFICIENT_DATA", KEEP, "ALARM", "OK"]),
    ("X - - - -", ["ALARM", KEEP, "ALARM", "OK"]),
]
# Second table: a 2 out of 3 (M out of N) alarm.
TWO_OF_THREE = [
    ("0 - X - X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
    ("0 0 X 0 X", ["ALARM", "ALARM", "ALARM", "ALARM"]),
    ("0 - X - -", ["OK", "OK", "ALARM", "OK"]),
    ("- - - - 0", ["OK", "OK", "ALARM", "OK"]),
    ("- - - - X", ["INSUFFICIENT_DATA", KEEP, "ALARM", "OK"]),
]
CELLS = [
    (required, points, mode, expected)
    for required, table in ((3, THREE_OF_THREE), (2, TWO_OF_THREE))
    for points, row in table
    for mode, expected in zip(MODES, row, strict=True)
]
T0 = int(datetime(2026, 11, 27, 14, 0, tzinfo=UTC).timestamp())


def test_the_tables_have_44_cells() -> None:
    assert len(CELLS) == 44


def definition(required: int, mode: str, periods: int = 3) -> AlarmDefinition:
    return parse_alarm(
        {
            "AlarmName": "Documented",
            "Namespace": "AWS/SageMaker",
            "MetricName": "ModelLatency",
            "Dimensions": [{"Name": "EndpointName", "Value": "churn"}],
            "Statistic": "Maximum",
            "Period": PERIOD,
            "EvaluationPeriods": periods,
            "DatapointsToAlarm": required,
            "Threshold": 1.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": mode,
        }
    )


def values(points: str) -> list[tuple[int, float | None]]:
    """``"0 - X"`` as period values: 0 within the threshold, X breaching, - missing."""
    meaning = {"0": 0.0, "X": 5.0, "-": None}
    return [(T0 + i * PERIOD, meaning[mark]) for i, mark in enumerate(points.split())]


@pytest.mark.parametrize("previous", STATES)
@pytest.mark.parametrize(("required", "points", "mode", "expected"), CELLS)
def test_documented_missing_data_table(
    required: int, points: str, mode: str, expected: str, previous: str
) -> None:
    state, _ = decide(definition(required, mode), values(points), previous)  # type: ignore[arg-type]
    assert state == (previous if expected == KEEP else expected)


@pytest.mark.parametrize(("required", "points", "mode", "expected"), CELLS)
def test_documented_table_through_the_metric_store(
    tmp_path: Path, required: int, points: str, mode: str, expected: str
) -> None:
    """The same cells, written as datapoints and evaluated at the end of the fifth period."""
    store = SqliteMetricStore(tmp_path / "metrics.db")
    for moment, value in values(points):
        if value is not None:
            store.put_metric_data(
                [
                    Datapoint(
                        "AWS/SageMaker",
                        "ModelLatency",
                        {"EndpointName": "churn"},
                        moment,
                        "Milliseconds",
                        value,
                        1,
                        value,
                        value,
                    )
                ]
            )
    now = datetime.fromtimestamp(T0 + 5 * PERIOD + 20, UTC)
    result = evaluate(definition(required, mode), store, now, "OK")
    assert result.state == ("OK" if expected == KEEP else expected)
    assert [moment for moment, _ in result.values] == [moment for moment, _ in values(points)]


def test_three_periods_retrieve_five() -> None:
    # "CloudWatch retrieves the 5 most recent data points when evaluating the alarm."
    now = datetime.fromtimestamp(T0 + 5 * PERIOD, UTC)
    assert retrieval_range(definition(3, "missing"), now) == (T0, T0 + 5 * PERIOD)
    assert evaluation_range(definition(3, "missing"), now) == (T0 + 2 * PERIOD, T0 + 5 * PERIOD)


def test_the_next_evaluation_of_row_two_goes_to_alarm() -> None:
    # "The next time this alarm is evaluated, if the data is still missing it will go to ALARM,
    # as that non-breaching data point will no longer be among the 5 most recent data points."
    assert decide(definition(3, "breaching"), values("0 - - - -"), "OK")[0] == "OK"
    assert decide(definition(3, "breaching"), values("- - - - -"), "OK")[0] == "ALARM"


@pytest.mark.parametrize(
    ("points", "required", "expected"),
    [
        # "Evaluating an alarm": 3 of 3 goes to ALARM when the three most recent datapoints
        # breach, back to OK when one of them does not, and stays OK after a single breach.
        ("0 0 X X X", 3, "ALARM"),
        ("0 X X X 0", 3, "OK"),
        ("X 0 0 0 X", 3, "OK"),
        # M out of N: the breaching datapoints need not be consecutive, only within the last N.
        ("0 0 X 0 X", 2, "ALARM"),
        ("X X 0 0 X", 2, "OK"),
    ],
)
def test_m_out_of_n(points: str, required: int, expected: str) -> None:
    assert decide(definition(required, "missing"), values(points), "OK")[0] == expected


def test_reason_texts_use_cloudwatch_wording() -> None:
    alarm = definition(3, "breaching")
    _, filled = decide(alarm, values("- - - - -"), "OK")
    assert filled == (
        "Threshold Crossed: no datapoints were received for 3 periods and 3 missing datapoints "
        "were treated as [Breaching]."
    )
    _, unknown = decide(definition(3, "missing"), values("- - - - X"), "OK")
    assert unknown == "Insufficient Data: 2 datapoints were unknown."
    _, crossed = decide(definition(3, "missing"), values("0 X X - X"), "OK")
    assert crossed.startswith("Threshold Crossed: 3 out of the last 3 datapoints [5.0 (")
    assert crossed.endswith(
        "were greater than the threshold (1.0) (minimum 3 datapoints for OK -> ALARM transition)."
    )
