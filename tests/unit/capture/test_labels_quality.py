"""Ground-truth ingestion, merging labels with captured rows, measured and estimated quality."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn import metrics

from driftloop.capture.labels import (
    ingest_label_records,
    ingest_labels,
    labels_root,
    read_labels,
)
from driftloop.capture.reader import Problem, Window, read_window, row_keys
from driftloop.capture.writer import CaptureWriter
from driftloop.errors import ConfigError, DataError, NotFoundError
from driftloop.monitoring.quality import (
    eligible_range,
    estimate_quality,
    merge_labels,
    model_quality,
)
from driftloop.serving.dataplane import DataPlane, Invocation
from driftloop.serving.metrics import EndpointMetrics
from driftloop.workspace import Workspace
from tests.conftest import tree
from tests.serving_fakes import SPEC, Summing, route, table

ENDPOINT = "fake-endpoint"
NOW = datetime(2026, 3, 4, 10, 15, tzinfo=UTC)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setattr("driftloop.capture.labels.utcnow", lambda: NOW)
    return Workspace(tmp_path / "ws")


def _source(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _stored(workspace: Workspace) -> list[dict]:
    files = sorted(labels_root(workspace).rglob("*.jsonl"))
    return [json.loads(line) for path in files for line in path.read_text().splitlines()]


def test_csv_labels_accept_target_values_and_numbers(workspace: Workspace, tmp_path: Path) -> None:
    source = _source(tmp_path, "labels.csv", "label,inference_id\nyes,a\nno,b\n1,c\nFALSE, d \n")
    ingest = ingest_labels(workspace, ENDPOINT, source, SPEC)
    assert (ingest.labels, ingest.positives, ingest.negatives) == (4, 2, 2)
    assert ingest.path.parent == labels_root(workspace) / ENDPOINT / "2026/03/04/10"
    assert _stored(workspace)[0] == {
        "groundTruthData": {"data": "1", "encoding": "CSV"},
        "eventMetadata": {"eventId": "a", "inferenceId": "a"},
        "eventVersion": "0",
    }
    assert read_labels(workspace, ENDPOINT) == {"a": 1, "b": 0, "c": 1, "d": 0}


def test_ground_truth_lines_in_every_encoding(workspace: Workspace, tmp_path: Path) -> None:
    records = [
        {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "e1"}},
        {
            "groundTruthData": {"data": '"no"', "encoding": "JSON"},
            "eventMetadata": {"eventId": "e2", "inferenceId": "i2"},
            "eventVersion": "0",
        },
        {
            "groundTruthData": {"data": "dHJ1ZQ==", "encoding": "BASE64"},
            "eventMetadata": {"eventId": "e3"},
        },
    ]
    text = "\n".join(json.dumps(r) for r in records) + "\n\n"
    assert ingest_labels(workspace, ENDPOINT, _source(tmp_path, "gt.jsonl", text), SPEC).labels == 3
    assert read_labels(workspace, ENDPOINT) == {"e1": 1, "i2": 0, "e3": 1}
    metas = [r["eventMetadata"] for r in _stored(workspace)]
    assert metas == [{"eventId": "e1"}, {"eventId": "e2", "inferenceId": "i2"}, {"eventId": "e3"}]


@pytest.mark.parametrize(
    ("name", "text", "lines"),
    [
        ("bad.csv", "inference_id,label\na,yes\nb,maybe\nc,1\n,0\nd,1,extra\n", [3, 5, 6]),
        ("bad.csv", "id,label\na,1\n", [1]),
        ("bad.jsonl", '{"inference_id": "a", "label": 1}\n{oops\n[]\n{"label": 1}\n', [2, 3, 4]),
        (
            "bad.jsonl",
            '{"groundTruthData": {"data": "2"}, "eventMetadata": {"eventId": "x"}}\n',
            [1],
        ),
    ],
)
def test_bad_label_lines_name_file_and_line_and_store_nothing(
    workspace: Workspace, tmp_path: Path, name: str, text: str, lines: list[int]
) -> None:
    with pytest.raises(DataError) as caught:
        ingest_labels(workspace, ENDPOINT, _source(tmp_path, name, text), SPEC)
    named = [int(e.split(":")[1]) for e in caught.value.details["errors"]]
    assert named == lines and all(e.startswith(f"{name}:") for e in caught.value.details["errors"])
    assert f"{name}:{lines[0]}:" in caught.value.message
    assert tree(workspace.root) == set()


def test_missing_and_empty_sources(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        ingest_labels(workspace, ENDPOINT, tmp_path / "nope.csv", SPEC)
    with pytest.raises(DataError, match="no labels"):
        ingest_labels(workspace, ENDPOINT, _source(tmp_path, "e.csv", "inference_id,label\n"), SPEC)
    assert read_labels(workspace, ENDPOINT) == {}


def test_posted_records_and_later_labels_win(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = [{"inference_id": "a", "label": "yes"}, {"inferenceId": "z", "label": 1}]
    ingest_label_records(workspace, ENDPOINT, first, SPEC)
    later = NOW + timedelta(hours=1, minutes=5)
    monkeypatch.setattr("driftloop.capture.labels.utcnow", lambda: later)
    posted = [
        {"inference_id": "a", "label": 0},
        {"groundTruthData": {"data": "1"}, "eventMetadata": {"inferenceId": "b"}},
        {"inference_id": "b", "label": False},  # the same id twice: the later line wins
    ]
    stored = ingest_label_records(workspace, ENDPOINT, posted, SPEC).to_dict()
    assert stored == {"labels": 2, "positives": 0, "negatives": 2, "path": stored["path"]}
    assert orjson.loads(orjson.dumps(stored)) == stored
    assert read_labels(workspace, ENDPOINT) == {"a": 0, "b": 0, "z": 1}
    assert read_labels(workspace, ENDPOINT, since=later) == {"a": 0, "b": 0}  # by hour folder
    with pytest.raises(DataError, match=r"request:2: label 'perhaps' is not one of 'yes', 'no'"):
        ingest_label_records(
            workspace, ENDPOINT, [posted[0], {"eventId": "c", "label": "perhaps"}], SPEC
        )


def test_merge_matches_inference_id_else_event_id(workspace: Workspace, tmp_path: Path) -> None:
    routes = table(route("A", Summing()))
    plane = DataPlane(
        routes,
        EndpointMetrics(ENDPOINT, None),
        CaptureWriter(tmp_path / "capture", ENDPOINT),
        max_rows=50,
        timeout_s=5.0,
    )
    bodies = [
        {"x": 10, "y": 20, "c": "a"},
        [{"x": 60, "y": 10, "c": "b"}] * 2,
        {"x": 5, "y": 5, "c": "a"},
    ]
    for n, body in enumerate(bodies):
        call = Invocation(
            orjson.dumps(body), "application/json", inference_id=f"i{n}" if n < 2 else None
        )
        asyncio.run(plane.invoke(call))
    since = datetime.now(UTC) - timedelta(hours=1)
    window = read_window(
        tmp_path / "capture", ENDPOINT, SPEC, since=since, until=since + timedelta(hours=2)
    )
    event_of_last = window.event_ids[-1]
    assert row_keys(window) == ["i0", "i1#1", "i1#2", event_of_last]
    # Row 0 matches by i0, not by its event id; each row of the batch i1 has its own label.
    labels = {"i0": 0, "i1#1": 1, "i1#2": 0, event_of_last: 1, window.event_ids[0]: 1}
    y_true, proba = merge_labels(window, labels)
    assert y_true.tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(proba, [0.3, 0.7, 0.7, 0.1])
    assert merge_labels(window, {})[0].size == 0
    # A label naming the batch as a whole labels none of its rows.
    assert merge_labels(window, {"i1": 1})[0].size == 0


def _window(times: list[datetime], since: datetime, until: datetime) -> Window:
    n = len(times)
    return Window(
        frame=pd.DataFrame({"x": np.zeros(n)}),
        inference_ids=[f"i{k}" for k in range(n)],
        event_ids=[f"e{k}" for k in range(n)],
        positions=np.ones(n, dtype=np.int64),
        record_rows=np.ones(n, dtype=np.int64),
        times=np.array([t.replace(tzinfo=None) for t in times], dtype="datetime64[s]"),
        variants=["A"] * n,
        probabilities=np.linspace(0.1, 0.9, n),
        problems=[],
        records=n,
        rows=n,
        since=since,
        until=until,
    )


def test_offsets_follow_model_monitor(tmp_path: Path) -> None:
    run = datetime(2020, 1, 9, 13, tzinfo=UTC)
    start, end = eligible_range(
        run, timedelta(hours=1), offset_start=-timedelta(days=8), offset_end=-timedelta(days=1)
    )
    assert (start, end) == (
        datetime(2020, 1, 1, 13, tzinfo=UTC),
        datetime(2020, 1, 8, 13, tzinfo=UTC),
    )
    assert eligible_range(run, timedelta(hours=1)) == (run - timedelta(hours=1), run)
    second = timedelta(seconds=1)
    times = [start - second, start, end - second, end, run - second]
    window = _window(times, datetime(2020, 1, 1, tzinfo=UTC), run)
    labels = {f"i{k}": k % 2 for k in range(len(times))}
    offsets = {"offset_start": start - run, "offset_end": end - run}
    y_true, proba = merge_labels(window, labels, **offsets)
    assert y_true.tolist() == [1, 0] and proba.tolist() == window.probabilities[1:3].tolist()
    assert merge_labels(window, labels)[0].size == 5  # no offsets: the whole window
    assert merge_labels(window, labels, offset_end=-timedelta(days=1))[0].size == 3
    narrow = _window(times, start + second, run)
    with pytest.raises(ConfigError, match="does not cover"):
        merge_labels(narrow, labels, **offsets)
    with pytest.raises(ConfigError, match="zero or negative"):
        merge_labels(window, labels, offset_start=timedelta(hours=1))
    with pytest.raises(ConfigError, match="must come after"):
        eligible_range(run, timedelta(hours=1), offset_start=-second, offset_end=-2 * second)


def test_model_quality_matches_scikit_learn() -> None:
    y = np.array([0, 0, 1, 1, 1, 0, 1, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.8, 0.4, 0.9, 0.2, 0.55, 0.7, 0.3, 0.95])
    result = model_quality(y, p, 0.5)
    predicted = p >= 0.5
    assert result["confusion_matrix"] == metrics.confusion_matrix(y, predicted).tolist()
    assert result["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, p))
    assert result["precision"] == pytest.approx(metrics.precision_score(y, predicted))
    assert result["recall"] == pytest.approx(metrics.recall_score(y, predicted))
    assert result["f1"] == pytest.approx(metrics.f1_score(y, predicted))
    assert result["accuracy"] == pytest.approx(metrics.accuracy_score(y, predicted))
    assert result["rows"] == 10 and result["threshold"] == 0.5


def test_one_class_and_empty_quality() -> None:
    result = model_quality(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.6]), 0.5)
    assert result["roc_auc"] is None and result["recall"] is None
    assert result["precision"] == 0.0 and result["accuracy"] == 0.75
    empty = model_quality(np.array([]), np.array([]), 0.5)
    assert empty["rows"] == 0 and empty["accuracy"] is None
    assert estimate_quality(np.array([np.nan]), 0.5)["rows"] == 0


def test_estimate_is_close_to_realised_quality_when_calibrated() -> None:
    rng = np.random.default_rng(7)
    proba = rng.beta(1.2, 3.0, size=20_000)
    y_true = (rng.random(proba.size) < proba).astype(int)  # labels drawn from the probabilities
    realised = model_quality(y_true, proba, 0.4)
    estimated = estimate_quality(np.append(proba, np.nan), 0.4)
    assert estimated["estimated"] is True and estimated["rows"] == proba.size
    for name in ("roc_auc", "precision", "recall", "f1", "accuracy"):
        assert estimated[name] == pytest.approx(realised[name], abs=0.02), name
    cells = np.array(estimated["confusion_matrix"]) - np.array(realised["confusion_matrix"])
    assert np.abs(cells).max() < 0.02 * proba.size


def test_ground_truth_dropped_into_the_folder_is_read_and_checked(workspace: Workspace) -> None:
    hour = labels_root(workspace) / ENDPOINT / "2026/03/04/09"
    hour.mkdir(parents=True)
    lines = [
        {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": " e1 "}},
        {
            "groundTruthData": {"data": "MA==", "encoding": "BASE64"},
            "eventMetadata": {"eventId": "e2"},
        },
    ]
    (hour / "00-00-000-upload.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert read_labels(workspace, ENDPOINT) == {"e1": 1, "e2": 0}
    broken = hour / "59-00-000-broken.jsonl"
    broken.write_text('{"groundTruthData": {"data": "1"}}\n')
    labels = read_labels(workspace, ENDPOINT)
    assert labels == {"e1": 1, "e2": 0}
    assert labels.skipped == [Problem(str(broken), 1, "label line: no eventMetadata object")]


def test_quality_below_validation_by_more_than_the_tolerance_is_a_violation() -> None:
    from driftloop.monitoring.quality import quality_violations

    expected = {"roc_auc": 0.84}
    assert quality_violations({"roc_auc": 0.80}, expected, 0.05) == []
    (found,) = quality_violations({"roc_auc": 0.62}, expected, 0.05)
    assert (
        found["metric_name"] == "roc_auc" and found["constraint_check_type"] == "LessThanThreshold"
    )
    assert "0.6200" in found["description"] and "0.7900" in found["description"]
    assert quality_violations({"roc_auc": None}, expected, 0.05) == []  # one class: no AUC
    assert quality_violations({"roc_auc": 0.5}, {}, 0.05) == []  # nothing to compare with
