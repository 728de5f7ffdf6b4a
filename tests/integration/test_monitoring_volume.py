"""Monitoring in bounded memory: a window read in chunks (and by worker processes) gives what the
whole window gives, and bad lines deep inside a window keep their file and line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from driftloop.capture import parallel
from driftloop.capture.reader import Problem, Window, folder_files, iter_chunks, read_window
from driftloop.capture.writer import CaptureWriter, capture_record
from driftloop.config import DriftSettings
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.monitoring.drift import detect_drift
from driftloop.monitoring.reference import ReferenceProfile
from driftloop.monitoring.sample import RowSample
from driftloop.monitoring.window_summary import WindowSummary
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
