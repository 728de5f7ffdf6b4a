"""The reader's bulk path (column-wise, by Arrow) reads exactly what the line-by-line path reads:
the same rows, metadata and problems, whatever the lines hold and wherever the bad ones are."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import orjson
import pandas as pd
import pyarrow.json as pj
import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftloop.capture import _uniform
from driftloop.capture.reader import Window, parse_window
from driftloop.capture.writer import capture_record
from tests.serving_fakes import SPEC
from tests.unit.capture.test_capture_fuzz import DAY, FUZZ, NAME, WHEN, capture_lines

INSIDE = DAY[0].replace(hour=9)
OUTSIDE = DAY[1].replace(hour=1)
GOOD = {"x": 1, "y": 2.5, "c": "a"}
BODIES = st.sampled_from(
    [
        GOOD,
        {"x": None, "y": -3, "c": " b "},
        {"x": 1, "y": 2, "c": 7},  # a number in a text feature: its digits
        {"x": 1, "y": 2, "c": 1.5},
        {"x": 1, "y": 2, "c": 2.0},  # a whole float: the endpoint writes "2"
        {"x": 1, "y": 2, "c": 1234567},
        {"x": 1, "y": 2, "c": True},
        {"x": 1, "y": 2, "c": None},
        {"x": 1, "y": 2, "c": "   "},
        {"x": "4", "y": 2, "c": "a"},  # numeric text
        {"x": 1, "y": 2},  # a missing column
        {"x": 1, "y": None, "c": "a", "label": "yes"},  # a known column besides the features
        {"x": 1, "y": 2, "c": "a", "z": 1},  # an unknown one
        {"x": 1, "y": 2, "c": "a", "z": None},
        {"x": 10**30, "y": 2, "c": "a"},
        {"x": 1, "y": 2, "c": "é"},
        [GOOD, GOOD],
        {"instances": [[1, 2, "a"]]},
    ]
)
ANSWERS = st.sampled_from(
    [
        {"predictions": [{"probability": 0.25, "label": "no"}]},
        {"predictions": [{"probability": 1}]},
        {"predictions": [{"probability": "0.5"}]},
        {"predictions": [{"probability": None}]},
        {"predictions": []},
        {"predictions": [{"probability": 0.1}, {"probability": 0.2}]},
        {"other": 1},
        None,
    ]
)


@st.composite
def records(draw: st.DrawFn) -> bytes:
    """A capture line as the endpoint writes it, of any body, answer and time."""
    answer = draw(ANSWERS)
    return capture_record(
        request=json.dumps(draw(BODIES), separators=(",", ":")).encode(),
        request_type="application/json",
        response=None if answer is None else orjson.dumps(answer),
        response_type="application/json",
        event_id=draw(st.sampled_from(["e1", "e2"])),
        inference_id=draw(st.sampled_from([None, "i1"])),
        when=draw(st.sampled_from([WHEN, INSIDE, OUTSIDE])),
    ).rstrip(b"\n")


def _line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def none_uniform(self: _uniform.UniformRecords, block: bytes, count: int) -> _uniform.Found:
        return _uniform.Found(others=list(range(count)))

    monkeypatch.setattr(_uniform.UniformRecords, "read", none_uniform)


def _read(content: bytes) -> Window:
    return parse_window([("A", NAME, [content])], SPEC, since=DAY[0], until=DAY[1])


def _assert_same(bulk: Window, lines: Window) -> None:
    pd.testing.assert_frame_equal(bulk.frame, lines.frame)
    assert bulk.problems == lines.problems
    assert (bulk.records, bulk.rows) == (lines.records, lines.rows)
    assert bulk.inference_ids == lines.inference_ids and bulk.event_ids == lines.event_ids
    np.testing.assert_array_equal(bulk.times, lines.times)
    np.testing.assert_array_equal(bulk.positions, lines.positions)
    np.testing.assert_array_equal(bulk.record_rows, lines.record_rows)
    np.testing.assert_array_equal(bulk.probabilities, lines.probabilities)


def _good_record() -> bytes:
    """One usual capture record (a JSON request and answer), as the endpoint writes it."""
    return capture_record(
        request=orjson.dumps(GOOD),
        request_type="application/json",
        response=b'{"predictions": [{"probability": 0.5}]}',
        response_type="application/json",
        event_id="g",
        inference_id=None,
        when=WHEN,
    )


@given(
    runs=st.lists(st.tuples(records() | capture_lines(), st.integers(1, 40)), max_size=8),
    good=st.integers(0, 60),
    ending=st.sampled_from([b"\n", b"\r\n", b""]),
    arrow_block=st.sampled_from([1 << 20, 2048]),
)
@FUZZ
def test_bulk_and_line_by_line_reading_agree(
    runs: list[tuple[bytes, int]], good: int, ending: bytes, arrow_block: int
) -> None:
    """Runs of like lines, so that pieces of the bulk path read (and others are refused);
    small Arrow blocks make Arrow parse a piece in several blocks, on its threads, and join
    the types it inferred for each."""
    lines = [line for line, times in runs for _ in range(times)]
    plain = _good_record().rstrip(b"\n")
    content = b"\n".join([plain] * good + lines) + ending
    with pytest.MonkeyPatch.context() as patch:
        read = pj.ReadOptions(use_threads=True, block_size=arrow_block)
        patch.setattr(_uniform, "_READ", read)
        bulk = _read(content)
    with pytest.MonkeyPatch.context() as patch:
        _line_by_line(patch)
        lines_read = _read(content)
    _assert_same(bulk, lines_read)


def test_a_torn_line_deep_in_a_block_costs_its_neighbours_nothing() -> None:
    good = _good_record()
    lines = [good] * 5000
    lines[3210] = good[:40] + b"\n"
    lines[4000] = good.replace(b'\\"c\\":\\"a\\"', b'\\"c\\":[1]')
    calls: list[int] = []
    real = _uniform._read

    def counted(piece: bytes, count: int, options: object) -> object:
        calls.append(count)
        return real(piece, count, options)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_uniform, "_read", counted)
        window = _read(b"".join(lines))
    assert [(p.line, p.reason.split(":")[0]) for p in window.problems] == [
        (3211, "not JSON"),
        (4001, "endpointInput"),
    ]
    assert window.records == 5000 and window.rows == 4998
    assert len(calls) < 80  # halving, never line by line
    assert sum(c for c in calls if c <= _uniform.FEW) < 4 * _uniform.FEW


def test_a_pretty_printed_record_reads_line_by_line() -> None:
    record = json.loads(
        capture_record(
            request=orjson.dumps(GOOD),
            request_type="application/json",
            response=None,
            response_type="application/json",
            event_id="g",
            inference_id=None,
            when=WHEN,
        )
    )
    record["captureData"]["endpointInput"]["data"] = json.dumps(GOOD, indent=1)
    window = _read(json.dumps(record).encode())
    assert window.rows == 1 and window.frame["c"].tolist() == ["a"] and not window.problems


def test_times_come_back_as_whole_utc_seconds() -> None:
    when = datetime(2026, 3, 4, 23, 59, 59, tzinfo=UTC)
    line = capture_record(
        request=orjson.dumps(GOOD),
        request_type="application/json",
        response=None,
        response_type="application/json",
        event_id="g",
        inference_id="i",
        when=when,
    )
    window = _read(line * 3)
    assert window.times.dtype == np.dtype("datetime64[s]")
    assert window.times.tolist() == [when.replace(tzinfo=None)] * 3
    assert window.inference_ids == ["i"] * 3 and np.isnan(window.probabilities).all()
