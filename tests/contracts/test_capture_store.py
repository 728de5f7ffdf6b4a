"""The capture and label store contracts: windows of captured rows, labels per row key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from driftloop.backends.catalog import Backends
from driftloop.capture.writer import capture_record
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.errors import DataError

STORES = ("capture", "labels")
"""The stores these tests exercise: they run for every backend kind that builds them."""

SPEC = TabularSpec(
    (
        ColumnSpec("x", "numeric", "feature"),
        ColumnSpec("c", "categorical", "feature"),
        ColumnSpec("y", "categorical", "target"),
    ),
    "y",
    "Yes",
    "No",
)
T0 = datetime(2026, 3, 1, 12, 59, 58, tzinfo=UTC)


def _record(rows: list[dict[str, object]], inference_id: str, when: datetime) -> bytes:
    answer = {"predictions": [{"probability": 0.25, "label": "No"}] * len(rows)}
    return capture_record(
        request=orjson.dumps(rows if len(rows) > 1 else rows[0]),
        request_type="application/json",
        response=orjson.dumps(answer),
        response_type="application/json",
        event_id=f"e-{inference_id}",
        inference_id=inference_id,
        when=when,
    )


def test_a_window_holds_what_was_captured_in_it(backends: Backends) -> None:
    store = backends.capture
    one = {"x": 1.5, "c": "a"}
    store.write("churn", "A", [_record([one], "r1", T0)], T0)
    later = T0 + timedelta(seconds=3)  # the next hour: another folder
    store.write("churn", "A", [_record([one, {"x": 2.0, "c": "b"}], "r2", later)], later)
    store.write("churn", "B", [_record([one], "r3", later)], later)
    store.write("churn", "A", [b"not json\n"], later)
    window = store.read_window("churn", SPEC, since=T0, until=T0 + timedelta(minutes=1))
    assert window.rows == 4 and window.records == 4
    (problem,) = window.problems  # named by file (relative to the capture root) and line
    assert problem.file.startswith("churn/A/2026/03/01/13/") and problem.file.endswith(".jsonl")
    assert problem.line == 1 and problem.reason.startswith("not JSON")
    assert sorted(window.inference_ids) == ["r1", "r2", "r2", "r3"]
    only_a = store.read_window(
        "churn",
        SPEC,
        since=T0 + timedelta(seconds=1),
        until=T0 + timedelta(minutes=1),
        variants=["A"],
    )
    assert only_a.inference_ids == ["r2", "r2"] and list(only_a.positions) == [1, 2]
    assert list(only_a.frame["c"]) == ["a", "b"] and only_a.probabilities.tolist() == [0.25, 0.25]
    empty = store.read_window("other", SPEC, since=T0, until=T0 + timedelta(hours=1))
    assert empty.rows == 0 and empty.records == 0


def test_labels_per_key_all_or_none(backends: Backends, tmp_path: Path) -> None:
    store = backends.labels
    assert store.read("churn") == {}
    stored = store.put_records("churn", [{"inference_id": "r1", "label": "Yes"}], SPEC)
    assert (stored.labels, stored.positives) == (1, 1)
    source = tmp_path / "truth.csv"
    source.write_text("inference_id,label\nr2#1,No\nr2#2,1\n")
    assert str(store.put_file("churn", source, SPEC).path).endswith(".jsonl")
    assert store.read("churn") == {"r1": 1, "r2#1": 0, "r2#2": 1}
    now = datetime.now(UTC)
    assert len(store.read("churn", since=now - timedelta(hours=1))) == 3
    assert store.read("churn", since=now + timedelta(hours=2)) == {}  # stored in earlier hours
    with pytest.raises(DataError, match="request:2"):
        store.put_records(
            "churn",
            [{"inference_id": "r9", "label": 0}, {"inference_id": "r10", "label": "?"}],
            SPEC,
        )
    assert "r9" not in store.read("churn")
    store.put_records("churn", [{"inference_id": "r1", "label": 0}], SPEC)
    assert store.read("churn")["r1"] == 0  # a later label wins


def test_raw_records_of_one_variant_in_a_window(backends: Backends) -> None:
    store = backends.capture
    later = T0 + timedelta(seconds=3)
    store.write("churn", "A", [_record([{"x": 1.0, "c": "a"}], "r1", T0)], T0)
    store.write("churn", "A", [_record([{"x": 2.0, "c": "b"}], "r2", later), b"[1]\n"], later)
    store.write("churn", "B", [_record([{"x": 3.0, "c": "a"}], "r3", later)], later)
    found = list(store.read_records("churn", "A", since=T0, until=T0 + timedelta(minutes=1)))
    assert [r["eventMetadata"]["inferenceId"] for r in found] == ["r1", "r2"]
    assert found[0]["captureData"]["endpointOutput"]["encoding"] == "JSON"
    after = T0 + timedelta(seconds=1)
    assert len(list(store.read_records("churn", "A", since=after, until=later))) == 0
    assert list(store.read_records("nope", "A", since=T0, until=later)) == []
