"""Capture files, the metric store and endpoint configs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.capture.writer import CaptureWriter, capture_record
from driftloop.errors import ConfigError, NotFoundError, StoreUnavailable
from driftloop.events.log import read_events
from driftloop.serving.endpoint_config import EndpointConfig, Variant
from driftloop.serving.metrics import EndpointMetrics
from driftloop.workspace import Workspace
from tests.workspaces import endpoint_store

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def test_capture_record_is_sagemaker_shaped() -> None:
    line = capture_record(
        request=b"1,2,a",
        request_type="text/csv",
        response=b"\x00\x01",
        response_type="application/octet-stream",
        event_id="e1",
        inference_id="i1",
        when=WHEN,
    )
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    record = json.loads(line)
    assert record == {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "1,2,a",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "application/octet-stream",
                "mode": "OUTPUT",
                "data": "AAE=",
                "encoding": "BASE64",
            },
        },
        "eventMetadata": {
            "eventId": "e1",
            "inferenceTime": "2026-03-04T05:06:07Z",
            "inferenceId": "i1",
        },
        "eventVersion": "0",
    }


def test_capture_files_roll_per_variant_and_hour(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path, "ep")
    writer.write("A", b"one\n", WHEN)
    writer.write("A", b"two\n", WHEN)
    writer.write("B", b"three\n", WHEN)
    writer.write("A", b"four\n", WHEN.replace(hour=6))
    writer.close()
    hour5 = list((tmp_path / "ep" / "A" / "2026" / "03" / "04" / "05").glob("*.jsonl"))
    hour6 = list((tmp_path / "ep" / "A" / "2026" / "03" / "04" / "06").glob("*.jsonl"))
    assert [p.read_text() for p in hour5] == ["one\ntwo\n"]
    assert [p.read_text() for p in hour6] == ["four\n"]
    assert hour5[0].name.startswith("06-07-890-")
    assert len(list((tmp_path / "ep" / "B").rglob("*.jsonl"))) == 1


_WRITER = """
import sys
from pathlib import Path
from driftloop.backends.local.metrics import SqliteMetricStore
from driftloop.metrics.base import Datapoint
value = float(sys.argv[2])
store = SqliteMetricStore(Path(sys.argv[1]))
for _ in range(50):
    dims = {"EndpointName": "e", "VariantName": "A"}
    store.put_metric_data([Datapoint("AWS/SageMaker", "ModelLatency", dims,
                          600, "Microseconds", value, 1, value, value, {f"{value:.2g}": 1})])
"""


def test_metric_store_merges_writers_from_several_processes(tmp_path: Path) -> None:
    db = tmp_path / "metrics.db"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(db), value], stderr=subprocess.PIPE)
        for value in ("100", "300")
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()
    dims = {"VariantName": "A", "EndpointName": "e"}
    (point,) = SqliteMetricStore(db).get_metric_data("AWS/SageMaker", "ModelLatency", dims)
    assert point.count == 100 and point.sum == 50 * 100 + 50 * 300
    assert (point.min, point.max) == (100.0, 300.0)
    assert point.distribution == {"1e+02": 50, "3e+02": 50}
    assert (
        SqliteMetricStore(db).get_metric_data("AWS/SageMaker", "ModelLatency", {"VariantName": "A"})
        == []
    )
    assert (
        SqliteMetricStore(db).get_metric_data("AWS/SageMaker", "ModelLatency", dims, since=660)
        == []
    )


def test_endpoint_store_revisions_and_errors(tmp_path: Path) -> None:
    store = endpoint_store(Workspace(tmp_path))
    config = EndpointConfig(
        name="churn", model_name="m", variants=(Variant(name="A", model="champion"),)
    )
    assert store.save(config).revision == 1
    assert store.save(config).revision == 2
    updates = [e["detail"] for e in read_events(Workspace(tmp_path))]
    assert [u["revision"] for u in updates] == [1, 2]
    assert updates[0]["variants"] == [{"name": "A", "model": "champion", "weight": 1.0}]
    assert [c.name for c in store.list()] == ["churn"]
    with pytest.raises(NotFoundError, match="endpoint 'nope' does not exist"):
        store.get("nope")
    store.path("broken").write_text('{"name": "broken", "model_name": "m", "variants": []}')
    with pytest.raises(ConfigError, match="'variants'"):
        store.get("broken")
    with pytest.raises(ValueError, match="unique"):
        EndpointConfig(
            name="x",
            model_name="m",
            variants=(Variant(name="A", model="1"), Variant(name="A", model="2")),
        )
    with pytest.raises(ValueError, match="weight above 0"):
        EndpointConfig(name="x", model_name="m", variants=(Variant(name="A", model="1", weight=0),))
    with pytest.raises(ValueError):
        Variant(name="bad name!", model="1")


def test_datapoints_a_store_refused_are_sent_with_the_next_flush(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    path.mkdir()  # a folder where the store's file should be: every write is refused
    store = SqliteMetricStore(path)
    metrics = EndpointMetrics("churn", store)
    series = ("AWS/SageMaker", "Invocations", {"EndpointName": "churn", "VariantName": "A"})
    for _ in range(3):
        metrics.record("A", 200, model_us=100.0, total_us=150.0, model_error=False)
    with pytest.raises(StoreUnavailable):
        metrics.flush()
    path.rmdir()
    metrics.record("A", 500, model_us=None, total_us=10.0, model_error=True)
    metrics.flush()
    assert sum(point.count for point in store.get_metric_data(*series)) == 4  # none lost
    metrics.flush()
    assert sum(point.count for point in store.get_metric_data(*series)) == 4  # none doubled
