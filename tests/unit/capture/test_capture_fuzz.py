"""Any bytes in a capture file or a ground-truth file: counted as bad lines, never a crash."""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftloop.capture.labels import labels_in, record_labels
from driftloop.capture.reader import parse_window
from driftloop.capture.writer import capture_record
from driftloop.errors import DataError
from tests.serving_fakes import SPEC

WHEN = datetime(2026, 3, 4, 10, 15, 0, tzinfo=UTC)
DAY = (datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC))
NAME = "fake-endpoint/A/2026/03/04/10/capture.jsonl"
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
BODIES = st.sampled_from(
    [
        b'{"x": 1, "y": 2, "c": "a"}',
        b'[{"x": 1, "y": 2, "c": "a"}, {"x": "1", "y": null, "c": 3}]',
        b'{"instances": [[1, 2, "a"]]}',
        b'{"inputs": {"x": [1], "y": [2, 3], "c": ["a"]}}',
        b'{"dataframe_split": {"columns": ["x"], "data": [[1]]}}',
        b"x,y,c\n1,2,a\n",
        b'1,"2,a\n',
        b"\xef\xbb\xbf1,2,a\n",
        b"\xff\xfe1,2",
        b"",
        b"\n\n",
        b"[[[[[[[[",
    ]
) | st.binary(max_size=30)
TYPES = st.sampled_from(
    ["application/json", "text/csv", "application/jsonlines", "image/png", "", "text/csv; x"]
)
ANSWERS = st.sampled_from(
    [
        (b'{"predictions": [{"probability": 0.5, "label": "yes"}]}', "application/json"),
        (b"0.5,yes,1,A\n", "text/csv"),
        (b'{"predictions": [{"probability": "x"}]}', "application/json"),
        (b"nan,yes\n", "text/csv"),
        (b"\xff", "text/csv"),
        (b"{}", "application/json"),
    ]
)


@st.composite
def capture_lines(draw: st.DrawFn) -> bytes:
    """A written record, a mangled one, a JSON document, or bytes."""
    kind = draw(st.integers(0, 4))
    if kind <= 1:
        answer, answer_type = draw(ANSWERS)
        line = capture_record(
            request=draw(BODIES | st.none()),
            request_type=draw(TYPES),
            response=answer if draw(st.booleans()) else None,
            response_type=answer_type,
            event_id=draw(st.text(max_size=4)),
            inference_id=draw(st.none() | st.text(max_size=4)),
            when=WHEN,
        )
        if kind == 1:  # torn, or with a byte changed
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(st.binary(max_size=2))
        return line.rstrip(b"\n")
    if kind == 2:
        doc = {
            "captureData": draw(
                st.dictionaries(st.sampled_from(["endpointInput", "endpointOutput"]), VALUES)
            ),
            "eventMetadata": draw(
                st.fixed_dictionaries(
                    {
                        "inferenceTime": st.sampled_from(
                            ["2026-03-04T10:15:00Z", "2026-03-04T10:15:00.5Z", "x"]
                        )
                        | SCALARS
                    },
                    optional={"eventId": SCALARS, "inferenceId": SCALARS},
                )
                | VALUES
            ),
        }
        return json.dumps(doc).encode()  # NaN, huge integers: not JSON to orjson
    if kind == 3:
        payload = {
            "observedContentType": draw(TYPES),
            "mode": "INPUT",
            "data": draw(st.text(max_size=12) | st.just(base64.b64encode(draw(BODIES)).decode())),
            "encoding": draw(st.sampled_from(["BASE64", "CSV", "JSON", "", "x"])),
        }
        meta = {"eventId": "e", "inferenceTime": "2026-03-04T10:15:00Z"}
        return json.dumps(
            {"captureData": {"endpointInput": payload}, "eventMetadata": meta}
        ).encode()
    return draw(st.binary(max_size=60))


@given(lines=st.lists(capture_lines(), max_size=12), ending=st.sampled_from([b"\n", b"\r\n", b""]))
@FUZZ
def test_any_capture_file_reads_with_its_bad_lines_counted(
    lines: list[bytes], ending: bytes
) -> None:
    content = b"\n".join(lines) + ending
    count = len(io.BytesIO(content).readlines())
    window = parse_window([("A", NAME, io.BytesIO(content))], SPEC, since=DAY[0], until=DAY[1])
    assert window.records <= count
    assert len(window.frame) == window.rows
    for problem in window.problems:
        assert problem.file == NAME and 1 <= problem.line <= count, problem
        assert problem.reason


TRUTHS = [
    ({"data": "1", "encoding": "CSV"}, {"eventId": "e"}),
    ({"data": "\u0080", "encoding": "BASE64"}, {"eventId": "e"}),
    ({"data": "[", "encoding": "JSON"}, {"eventId": "e"}),
    ({"data": "/w==", "encoding": "BASE64"}, {"inferenceId": "i"}),
    (1, []),
]
LABEL_LINES = st.sampled_from(
    [
        *(json.dumps({"groundTruthData": t, "eventMetadata": m}).encode() for t, m in TRUTHS),
        b"[]",
        b"",
    ]
) | st.binary(max_size=40)


@given(lines=st.lists(LABEL_LINES, max_size=6))
@FUZZ
def test_any_ground_truth_file_is_read_with_its_bad_lines_counted(lines: list[bytes]) -> None:
    content = b"\n".join(lines)
    labels = labels_in([("truth.jsonl", content)])
    assert set(labels.values()) <= {0, 1}
    count = len(content.splitlines())
    assert len(labels.skipped) <= count
    for problem in labels.skipped:
        assert problem.file == "truth.jsonl" and 1 <= problem.line <= count and problem.reason


@pytest.mark.parametrize("data", ["\u0080", "é", "/w==", "***"])
def test_a_base64_label_that_is_not_base64_text_names_its_line(data: str) -> None:
    record: dict[str, Any] = {
        "groundTruthData": {"data": data, "encoding": "BASE64"},
        "eventMetadata": {"eventId": "e"},
    }
    with pytest.raises(DataError, match=r"request:1: groundTruthData\.data is not BASE64"):
        record_labels([record], SPEC)


def test_a_base64_body_that_is_not_ascii_is_a_problem_of_its_line() -> None:
    payload = {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": "é",
        "encoding": "BASE64",
    }
    meta = {"eventId": "e", "inferenceTime": "2026-03-04T10:15:00Z"}
    line = json.dumps({"captureData": {"endpointInput": payload}, "eventMetadata": meta}).encode()
    window = parse_window([("A", NAME, [line])], SPEC, since=DAY[0], until=DAY[1])
    ((problem),) = window.problems
    assert (problem.line, window.rows) == (1, 0)
    assert "not valid BASE64" in problem.reason
