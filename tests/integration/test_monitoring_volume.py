"""Monitoring in bounded memory: a window read in chunks (and by worker processes) gives what the
whole window gives, and bad lines deep inside a window keep their file and line."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from driftloop.capture import parallel
from driftloop.capture.reader import (
    Problem,
    Window,
    folder_files,
    iter_chunks,
    read_window,
    row_keys,
)
from driftloop.capture.writer import CaptureWriter, capture_record
from driftloop.config import DriftSettings
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.monitoring import container
from driftloop.monitoring.container import Contract
from driftloop.monitoring.drift import detect_drift
from driftloop.monitoring.problems import LISTED_PER_FILE, ProblemLog
from driftloop.monitoring.reference import ReferenceProfile
from driftloop.monitoring.sample import RowSample
from driftloop.monitoring.window_summary import WindowSummary
from driftloop.retraining.data import labelled_chunks, labelled_rows
from driftloop.validation import compute_statistics, verify
from driftloop.validation.baseline import write_baseline
from driftloop.validation.streaming_statistics import StatisticsAccumulator
from driftloop.validation.value_counts import rank_error

SPEC = TabularSpec(
    (
        ColumnSpec("x", "numeric", "feature"),
        ColumnSpec("n", "numeric", "feature"),
        ColumnSpec("c", "categorical", "feature"),
        ColumnSpec("y", "categorical", "target"),
    ),
    "y",
    "Yes",
    "No",
)
FEATURES = TabularSpec(SPEC.columns[:3], None, "Yes", "No")
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
WINDOW = (T0, T0 + timedelta(hours=2))
RECORDS = 6000


def _line(row: dict[str, object], index: int, when: datetime, rows: int = 1) -> bytes:
    body = orjson.dumps(row if rows == 1 else [row] * rows)
    answer = {"predictions": [{"probability": (index % 97) / 97, "label": "No"}] * rows}
    return capture_record(
        request=body,
        request_type="application/json",
        response=orjson.dumps(answer),
        response_type="application/json",
        event_id=f"e{index}",
        inference_id=f"i{index}",
        when=when,
    )


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hours of traffic: mostly one-row records, some many-row ones and bad lines."""
    root = tmp_path_factory.mktemp("capture")
    rng = np.random.default_rng(3)
    writer = CaptureWriter(root, "e")
    for i in range(RECORDS):
        when = T0 + timedelta(seconds=i * 7200 // RECORDS)
        x = None if i % 50 == 0 else round(float(rng.gamma(2.0, 30.0)), 2)
        c = ["a", "b", "zz"][i % 3] if i % 400 else None
        row = {"x": x, "n": int(rng.integers(-1, 60)), "c": c}
        line = _line(row, i, when, rows=3 if i % 250 == 0 else 1)
        if i == 1500:
            line = line[: len(line) // 2] + b"\n"  # torn
        elif i == 3100:
            line = b"this is not JSON\n"
        elif i == 4700:
            line = _line({"x": "lots", "n": 1, "c": "a"}, i, when)  # a payload that does not type
        writer.write("A", line, when)
    writer.close()
    return root


def _whole(root: Path) -> Window:
    return read_window(root, "e", SPEC, since=WINDOW[0], until=WINDOW[1])


def _chunks(root: Path, rows: int) -> list[Window]:
    files = folder_files(root, "e", WINDOW[0], WINDOW[1], None)
    return list(iter_chunks(files, SPEC, since=WINDOW[0], until=WINDOW[1], chunk_rows=rows))


def test_chunks_hold_the_whole_window(capture: Path) -> None:
    whole, chunks = _whole(capture), _chunks(capture, 1000)
    assert len(chunks) >= 3  # a chunk ends after a block of lines
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(frame, whole.frame)
    assert sum(c.records for c in chunks) == whole.records == RECORDS
    assert [p for c in chunks for p in c.problems] == whole.problems
    assert [c.first_row for c in chunks] == list(np.cumsum([0] + [c.rows for c in chunks[:-1]]))
    np.testing.assert_array_equal(
        np.concatenate([c.probabilities for c in chunks]), whole.probabilities
    )


def test_bad_lines_keep_file_and_line_when_read_by_workers(
    capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _whole(capture)
    reasons = {p.reason.split(":")[0] for p in whole.problems}
    assert len(whole.problems) == 3 and "not JSON" in reasons and "endpointInput" in reasons
    monkeypatch.setattr(parallel, "MIN_PART_BYTES", 64 << 10)  # many parts for a small window
    parts = parallel.fold_folder(
        capture, "e", SPEC, _fold, since=WINDOW[0], until=WINDOW[1], variants=None, workers=2
    )
    assert len(parts) > 2 and [p[0] for p in parts] == list(range(len(parts)))
    assert [p for part in parts for p in part[1]] == whole.problems
    assert sum(p[2] for p in parts) == whole.records
    assert sum(p[3] for p in parts) == whole.rows


def _fold(part: int, chunks: Iterator[Window]) -> tuple[int, list[Problem], int, int]:
    read = list(chunks)
    problems = [p for c in read for p in c.problems]
    return part, problems, sum(c.records for c in read), sum(c.rows for c in read)


def test_summary_by_chunks_equals_the_whole_window_checks(capture: Path, tmp_path: Path) -> None:
    whole = _whole(capture)
    train = whole.frame.assign(y="No").iloc[::2].reset_index(drop=True)
    train.loc[train["n"] < 0, "n"] = 0  # the window's negatives break non-negativity
    constraints = write_baseline(train, SPEC, tmp_path).constraints
    for feature in constraints["features"]:  # make the window break some constraints
        if feature["name"] == "c":
            feature["string_constraints"]["domains"] = ["a", "b"]
    profile = ReferenceProfile.build(train, SPEC, DriftSettings())
    summary = WindowSummary(
        FEATURES, constraints, optional_columns=["y"], quality=None, sample_rows=500
    )
    for chunk in _chunks(capture, 700):
        summary.add(chunk)
    expected = verify(whole.frame, constraints, optional_columns=["y"])["violations"]
    assert expected and summary.tally.violations() == expected
    drift, found = detect_drift(profile, whole.frame), summary.drift(profile, DriftSettings())
    assert drift == found
    assert summary.rows == whole.rows and len(summary.sample.frame) == 500
    _same_statistics(summary.statistics.result(), compute_statistics(whole.frame, FEATURES), 0.0)


def test_statistics_past_the_exact_limit_are_within_the_stated_rank_error(capture: Path) -> None:
    whole = _whole(capture)
    accumulator = StatisticsAccumulator(FEATURES, max_distinct=200)  # x overflows to KLL
    for chunk in _chunks(capture, 500):
        accumulator.add(chunk.frame)
    result = accumulator.result()
    error = result["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"][
        "normalized_rank_error"
    ]
    assert error == rank_error() > 0
    _same_statistics(result, compute_statistics(whole.frame, FEATURES), error)
    exact = np.sort(whole.frame["x"].dropna().to_numpy())
    sketch = np.array(
        result["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"][0]
    )
    ranks = (np.arange(sketch.size) + 0.5) / sketch.size
    low = np.searchsorted(exact, sketch, side="left") / exact.size
    high = np.searchsorted(exact, sketch, side="right") / exact.size
    assert np.all((ranks >= low - error) & (ranks <= high + error))


def _same_statistics(found: dict, expected: dict, error: float) -> None:
    assert found["dataset"] == expected["dataset"]
    for got, want in zip(found["features"], expected["features"], strict=True):
        assert got["name"] == want["name"] and got["inferred_type"] == want["inferred_type"]
        if "string_statistics" in want:
            assert got == want
            continue
        g, w = got["numerical_statistics"], want["numerical_statistics"]
        assert g["common"] == w["common"] and g["min"] == w["min"] and g["max"] == w["max"]
        assert g["mean"] == pytest.approx(w["mean"], rel=1e-12)
        assert g["std_dev"] == pytest.approx(w["std_dev"], rel=1e-9)
        counts = [b["count"] for b in g["distribution"]["kll"]["buckets"]]
        wanted = [b["count"] for b in w["distribution"]["kll"]["buckets"]]
        n = w["common"]["num_present"]
        assert np.abs(np.array(counts) - wanted).max() <= 2 * error * n
        if error == 0.0:
            assert (
                g["distribution"]["kll"]["sketch"]["data"]
                == w["distribution"]["kll"]["sketch"]["data"]
            )


def test_row_sample_is_bounded_seeded_and_uniform() -> None:
    frame = pd.DataFrame({"v": np.arange(100_000)})
    first, second = RowSample(1000, seed=4), RowSample(1000, seed=4)
    for sample in (first, second):
        for start in range(0, len(frame), 7000):
            sample.add(frame.iloc[start : start + 7000])
    assert first.frame is not None and second.frame is not None
    assert len(first.frame) == 1000 and first.seen == 100_000
    assert first.frame.equals(second.frame)
    assert abs(first.frame["v"].mean() - 50_000) < 3_000


def test_labelled_traffic_by_chunks_is_the_whole_windows(capture: Path) -> None:
    whole = _whole(capture)
    keys = row_keys(whole)
    labels = {
        key: i % 2 for i, key in enumerate(keys) if i % 3 == 0
    }  # some rows of many-row records too
    labels[keys[0] + "#no-such-row"] = 1
    expected = labelled_rows(whole, labels, SPEC)
    found = labelled_chunks(_chunks(capture, 500), labels, SPEC)
    assert len(expected) == len({k for k in keys if k in labels}) > 1000
    pd.testing.assert_frame_equal(found, expected)
    empty = labelled_chunks(_chunks(capture, 500), {}, SPEC)
    assert empty.empty and list(empty.columns) == list(expected.columns)


def test_problems_are_counted_exactly_and_listed_boundedly(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path, "e")
    when = T0 + timedelta(minutes=5)
    good = _line({"x": 1.0, "n": 2, "c": "a"}, 1, when)
    for i in range(3000):
        if i % 3 == 0:
            line = b"not JSON at all\n"
        elif i % 3 == 1:
            line = good[: len(good) // 2] + b"\n"  # torn
        else:
            line = _line({"x": "lots", "n": 1, "c": "a"}, i, when)  # does not type
        writer.write("A", line, when)
        writer.write("A", good, when)
    writer.close()
    summaries = []
    for rows in (100, 4000):
        summary = WindowSummary(
            FEATURES, {"features": []}, optional_columns=[], quality=None, sample_rows=0
        )
        for chunk in _chunks(tmp_path, rows):
            summary.add(chunk)
        summaries.append(summary)
    log = summaries[0].problems
    assert log.total == 3000 and summaries[0].records == 6000 and summaries[0].rows == 3000
    assert dict(log.kinds) == {"not JSON": 2000, "endpointInput": 1000}
    (path,) = tmp_path.rglob("*.jsonl")
    name = path.relative_to(tmp_path).as_posix()
    account = log.to_dict()
    listed = account["problem_list"]
    assert len(listed) == LISTED_PER_FILE and [p["line"] for p in listed] == list(
        range(1, 2 * LISTED_PER_FILE, 2)
    )
    assert account["problem_files"] == [
        {
            "file": name,
            "problems": 3000,
            "listed": LISTED_PER_FILE,
            "and_more": 3000 - LISTED_PER_FILE,
        }
    ]
    assert summaries[1].problems.to_dict() == account  # however the window is chunked
    merged = ProblemLog()
    for part in (summaries[0].problems, summaries[1].problems):
        merged.merge(part)
    assert merged.total == 6000 and len(merged.examples()) == LISTED_PER_FILE


def test_the_model_monitor_analyzer_reads_its_window_by_chunks(
    capture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _whole(capture)
    train = whole.frame.assign(y="No").iloc[::2].reset_index(drop=True)
    baseline = write_baseline(train, SPEC, tmp_path / "baseline")
    contract = Contract(
        endpoint="e",
        schedule="e-monitoring",
        start=WINDOW[0],
        end=WINDOW[1],
        metric_time=WINDOW[0],
        dataset_source=capture,
        output_path=tmp_path / "out",
        baseline_statistics=baseline.statistics_path,
        baseline_constraints=baseline.constraints_path,
        publish_metrics=False,
        ml_output=tmp_path / "ml",
    )
    read: list[int] = []
    real = container.iter_chunks

    def counted(*args: Any, **kwargs: Any) -> Iterator[Window]:
        for chunk in real(*args, **{**kwargs, "chunk_rows": 800}):
            read.append(chunk.rows)
            yield chunk

    monkeypatch.setattr(container, "iter_chunks", counted)
    analysis = container.analyze(contract, target="y")
    assert len(read) > 5 and max(read) < 2000 and sum(read) == whole.rows == analysis.rows
    expected = verify(whole.frame, baseline.constraints, optional_columns=["y"])["violations"]
    found = [v for v in analysis.violations if v["constraint_check_type"] != "baseline_drift_check"]
    assert found == expected
    assert analysis.problem_log.total == 3 and analysis.summary()["problems"] == 3


def test_a_thread_beside_busy_threads_reads_with_workers(
    capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers come from the fork server, never a fork of this process: an agent's schedule
    thread reads in parallel while other threads (one holding a lock here) keep running."""
    monkeypatch.setattr(parallel, "MIN_PART_BYTES", 64 << 10)
    held, stop = threading.Lock(), threading.Event()

    def busy() -> None:
        with held:  # held across the workers' start: a fork of this process would copy it
            stop.wait(30)

    holder = threading.Thread(target=busy)
    holder.start()
    found: list[list[tuple[int, int, int]]] = []

    def read() -> None:
        found.append(
            parallel.fold_folder(
                capture, "e", SPEC, _pid_fold, since=WINDOW[0], until=WINDOW[1], variants=None,
                workers=2,
            )
        )  # fmt: skip

    try:
        reading = threading.Thread(target=read)
        reading.start()
        reading.join(120)
    finally:
        stop.set()
        holder.join()
    assert found, "the parallel read did not finish"
    parts = found[0]
    assert len(parts) > 2 and os.getpid() not in {pid for pid, _, _ in parts}
    assert os.getpid() not in {parent for _, parent, _ in parts}  # not forked from here
    assert sum(records for _, _, records in parts) == _whole(capture).records


def _pid_fold(_part: int, chunks: Iterator[Window]) -> tuple[int, int, int]:
    return os.getpid(), os.getppid(), sum(c.records for c in chunks)
