"""Reading captured traffic back: every request format, time windows, variants, bad lines."""

from __future__ import annotations

import asyncio
import base64
import gc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from driftloop.capture.reader import Problem, Window, hour_folders, read_window
from driftloop.capture.writer import CaptureWriter, capture_record
from driftloop.data import codecs
from driftloop.errors import ConfigError
from driftloop.serving.dataplane import DataPlane, Invocation
from driftloop.serving.endpoint_config import Capture
from driftloop.serving.metrics import EndpointMetrics
from tests.serving_fakes import SPEC, Summing, route, table

ENDPOINT = "fake-endpoint"
WHEN = datetime(2026, 3, 4, 10, 15, 0, tzinfo=UTC)
DAY = (datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC))
JSON, CSV = "application/json", "text/csv"
ROW = {"x": 10, "y": 20, "c": "a"}

# (body, content type): every shape the endpoint reads, with the rows it holds.
BODIES: list[tuple[bytes, str]] = [
    (orjson.dumps(ROW), JSON),
    (orjson.dumps([ROW, {"x": 1.5, "y": None, "c": " b "}]), JSON),
    (orjson.dumps({"instances": [[3, 4, "a"], [5, 6, None]]}), JSON),
    (orjson.dumps({"inputs": {"x": [7], "y": [8], "c": ["b"]}}), JSON),
    (orjson.dumps({"dataframe_split": {"columns": ["c", "y", "x"], "data": [["a", 2, 9]]}}), JSON),
    (orjson.dumps({"dataframe_records": [{**ROW, "id": "k1", "label": "yes"}]}), JSON),
    (b"c,x,y\na,11,12\nb,,13\n", CSV),
    (b"14,15,a\n16,17,\n", CSV),
    (b'{"x": 18, "y": 19, "c": "a"}\n{"x": 20, "y": 21, "c": "b"}\n', "application/jsonlines"),
    (orjson.dumps([ROW]), "application/x-json"),  # not a text type for the capture: BASE64
]


def _plane(root: Path, capture: Capture | None = None, *variants: str) -> DataPlane:
    routes = [route(name, Summing()) for name in variants or ("A",)]
    tbl = table(*routes, capture=capture)
    writer = CaptureWriter(root, ENDPOINT)
    return DataPlane(tbl, EndpointMetrics(ENDPOINT, None), writer, max_rows=50, timeout_s=5.0)


def _invoke(plane: DataPlane, body: bytes, content_type: str, **call: str) -> None:
    asyncio.run(plane.invoke(Invocation(body, content_type, **call)))


def _read(
    root: Path, window: tuple[datetime, datetime] = DAY, variants: list[str] | None = None
) -> Window:
    since, until = window
    return read_window(root, ENDPOINT, SPEC, since=since, until=until, variants=variants)


def _expected(bodies: list[tuple[bytes, str]]) -> pd.DataFrame:
    frames = [codecs.parse(body, kind, SPEC, 1000).to_frame(SPEC) for body, kind in bodies]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("driftloop.serving.dataplane.utcnow", lambda: WHEN)


def _line(
    when: datetime, body: bytes | None = b'{"x": 1, "y": 2, "c": "a"}', **kw: object
) -> bytes:
    """One capture line written the endpoint's way (JSON request, JSON answer of 0.5)."""
    answer = orjson.dumps({"predictions": [{"probability": 0.5, "label": "yes"}]})
    args: dict = {
        "request": body,
        "request_type": JSON,
        "response": answer,
        "response_type": JSON,
        "event_id": f"e-{when:%H%M%S}",
        "inference_id": None,
        "when": when,
        **kw,
    }
    return capture_record(**args)


def _write(root: Path, lines: list[bytes], when: datetime = WHEN) -> None:
    writer = CaptureWriter(root, ENDPOINT)
    for line in lines:
        writer.write("A", line, when)
    writer.close()


def test_every_request_format_reads_back_as_the_endpoint_parsed_it(tmp_path: Path) -> None:
    plane = _plane(tmp_path)
    for n, (body, kind) in enumerate(BODIES):
        accept = CSV if n % 2 else JSON  # answers in both formats
        _invoke(plane, body, kind, accept=accept, inference_id=f"inf-{n}")
    window = _read(tmp_path)
    expected = _expected(BODIES)
    assert window.problems == []
    assert window.records == len(BODIES) and window.rows == len(expected) == 15
    pd.testing.assert_frame_equal(window.frame, expected)
    assert window.frame.dtypes.tolist() == [np.float64, np.float64, object]
    summed = np.clip(np.nansum(expected[["x", "y"]].to_numpy(), axis=1) / 100, 0, 1)
    np.testing.assert_allclose(window.probabilities, summed, atol=1e-6)  # CSV answers: 6 places
    per_record = [codecs.parse(b, k, SPEC, 1000).rows for b, k in BODIES]
    assert window.inference_ids == [f"inf-{n}" for n, c in enumerate(per_record) for _ in range(c)]
    assert len(set(window.event_ids)) == len(BODIES) and set(window.variants) == {"A"}
    assert set(window.times.tolist()) == {WHEN.replace(tzinfo=None)}
    assert window.times.dtype == np.dtype("datetime64[s]")
    assert gc.isenabled()  # paused while reading only


def test_input_only_capture_has_no_probabilities_and_output_only_has_no_rows(
    tmp_path: Path,
) -> None:
    _invoke(_plane(tmp_path / "in", Capture(modes=("Input",))), orjson.dumps([ROW, ROW]), JSON)
    window = _read(tmp_path / "in")
    assert (window.rows, window.problems) == (2, [])
    assert np.isnan(window.probabilities).all() and window.inference_ids == [None, None]

    _invoke(_plane(tmp_path / "out", Capture(modes=("Output",))), orjson.dumps(ROW), JSON)
    window = _read(tmp_path / "out")
    assert (window.records, window.rows) == (1, 0)
    (problem,) = window.problems
    assert problem.line == 1 and "Output-only" in problem.reason
    assert problem.file.startswith(f"{ENDPOINT}/A/2026/03/04/10/")


def test_window_keeps_records_by_inference_time_across_hours(tmp_path: Path) -> None:
    base = datetime(2026, 3, 4, 10, 59, 59, tzinfo=UTC)
    times = [
        base - timedelta(hours=1),
        base,
        base + timedelta(seconds=1),
        base + timedelta(hours=1),
    ]
    for when in times:
        _write(tmp_path, [_line(when)], when)
    _write(tmp_path, [b"not even json\n"], datetime(2026, 3, 4, 8, tzinfo=UTC))  # never opened
    window = _read(tmp_path, window=(base, base + timedelta(hours=1)))
    assert window.event_ids == ["e-105959", "e-110000"]
    assert (window.records, window.problems) == (2, [])
    later = _read(tmp_path, window=(base + timedelta(microseconds=1), base + timedelta(hours=2)))
    assert later.event_ids == ["e-110000", "e-115959"]  # bounds are whole seconds, end excluded
    assert later.since == base + timedelta(microseconds=1)
    naive = _read(tmp_path, window=(datetime(2026, 3, 4, 9), datetime(2026, 3, 4, 11)))
    assert naive.event_ids == ["e-095959", "e-105959"]  # naive datetimes are UTC


def test_variants_filter_and_label_each_row(tmp_path: Path) -> None:
    plane = _plane(tmp_path, None, "A", "B")
    for variant in ("A", "B", "B"):
        _invoke(plane, orjson.dumps([ROW, ROW]), JSON, target_variant=variant)
    assert _read(tmp_path).variants == ["A", "A", "B", "B", "B", "B"]
    only_b = _read(tmp_path, variants=["B"])
    assert only_b.variants == ["B"] * 4 and only_b.records == 2


def test_empty_window_and_bad_bounds(tmp_path: Path) -> None:
    window = _read(tmp_path)
    assert (window.records, window.rows, len(window.times)) == (0, 0, 0)
    assert list(window.frame.columns) == SPEC.features
    with pytest.raises(ConfigError, match="before it starts"):
        _read(tmp_path, window=(DAY[1], DAY[0]))


def _bad_lines() -> dict[int, tuple[bytes, str]]:
    """Line number -> (bad line, words its Problem must hold)."""
    good_meta = {"eventId": "e", "inferenceTime": "2026-03-04T10:15:00Z"}
    record = {"captureData": {}, "eventMetadata": good_meta, "eventVersion": "0"}
    b64 = {"observedContentType": JSON, "mode": "INPUT", "data": "***", "encoding": "BASE64"}
    csv_answer = {"response": b"0.5,yes,1,A\n0.5,yes,1,A\n", "response_type": CSV}
    return {
        3: (b"{truncated\n", "not JSON"),
        5: (b"[1, 2]\n", "no eventMetadata"),
        7: (orjson.dumps({**record, "eventMetadata": {"eventId": "e"}}) + b"\n", "inferenceTime"),
        9: (orjson.dumps(record) + b"\n", "Output-only"),
        11: (_line(WHEN, b'{"x": 1, "y": '), "endpointInput: malformed JSON"),
        13: (_line(WHEN, b'{"x": 1, "c": "a"}'), "missing column(s): y"),
        15: (_line(WHEN, b'{"x": "big", "y": 2, "c": "a"}'), "row 1, field 'x': expected a number"),
        17: (_line(WHEN, b"1,2,a,9\n", request_type=CSV), "row 1 has 4 values, expected 3"),
        19: (_line(WHEN, request_type="image/png"), "content type 'image/png' is not supported"),
        21: (orjson.dumps({**record, "captureData": {"endpointInput": b64}}) + b"\n", "BASE64"),
        23: (_line(WHEN, orjson.dumps([ROW, ROW]), **csv_answer), None),
        25: (_line(WHEN, orjson.dumps([ROW, ROW])), "1 predictions for 2 input rows"),
        27: (_line(WHEN, orjson.dumps([ROW, {"x": 1, "y": 2, "c": 3}]), **csv_answer), None),
    }


def test_bad_lines_are_problems_with_file_and_line_and_good_rows_all_stay(
    tmp_path: Path,
) -> None:
    bad = _bad_lines()
    total = 1200  # several typing chunks, bad records inside them
    lines = [bad[n][0] if n in bad else _line(WHEN) for n in range(1, total + 1)]
    lines[100] = _line(WHEN, b'{"x": 1, "y": [2], "c": "a"}')  # line 101: fails inside a chunk
    lines[1100] = _line(WHEN, b"\n\n")  # line 1101: empty body
    _write(tmp_path, [*lines, b"\n"])
    window = _read(tmp_path)

    (path,) = tmp_path.rglob("*.jsonl")
    name = path.relative_to(tmp_path).as_posix()
    assert all(p.file == name for p in window.problems)
    reasons = {p.line: p.reason for p in window.problems}
    expected = {n: words for n, (_, words) in bad.items() if words}
    expected |= {101: "row 1, field 'y': expected a number, got list", 1101: "body is empty"}
    assert sorted(reasons) == sorted(expected)
    for number, words in expected.items():
        assert words in reasons[number], (number, reasons[number])
    rows_lost = {3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 101, 1101}
    assert window.records == total
    assert window.rows == total - len(rows_lost) + 3  # lines 23, 25 and 27 hold two rows each
    assert np.isnan(window.probabilities).sum() == 2  # line 25: kept without predictions
    assert window.frame["x"].notna().all() and window.frame["c"].tolist().count("3") == 1
    assert window.problems == sorted(window.problems, key=lambda p: p.line)
    assert isinstance(window.problems[0], Problem)


def test_base64_bodies_decode_before_parsing(tmp_path: Path) -> None:
    body = "x,y,c\n1,2,é\n".encode()
    payload = {
        "observedContentType": "text/csv; charset=utf-8",
        "mode": "INPUT",
        "data": base64.b64encode(body).decode(),
        "encoding": "BASE64",
    }
    record = {
        "captureData": {"endpointInput": payload},
        "eventMetadata": {"eventId": "e", "inferenceTime": "2026-03-04T10:15:00.250Z"},
        "eventVersion": "0",
    }
    _write(tmp_path, [orjson.dumps(record) + b"\n"])
    window = _read(tmp_path)
    assert window.problems == [] and window.frame.to_dict("records") == [
        {"x": 1.0, "y": 2.0, "c": "é"}
    ]


def test_hour_folders_are_pruned_across_day_and_month_ends(tmp_path: Path) -> None:
    for hour in ("2026/01/31/22", "2026/01/31/23", "2026/02/01/00", "2026/02/01/01", "2026/xx/01"):
        (tmp_path / hour).mkdir(parents=True)
    since, until = datetime(2026, 1, 31, 23, 30, tzinfo=UTC), datetime(2026, 2, 1, 1, tzinfo=UTC)
    found = [p.relative_to(tmp_path).as_posix() for p in hour_folders(tmp_path, since, until)]
    assert found == ["2026/01/31/23", "2026/02/01/00"]
    assert len(list(hour_folders(tmp_path, None, None))) == 4
