"""Any bytes in a batch-transform input: scored, or refused with a DataError, never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftloop.errors import DataError
from driftloop.serving.batch import batch_transform
from driftloop.serving.models import ServedModel
from tests.serving_fakes import SPEC, Summing

MODEL = ServedModel("fake", "1", SPEC, 0.5, Summing())
PIECES = st.sampled_from(
    [
        "x,y,c\n",
        "1,2,a\n",
        '1,"2,a\n',
        "1,2\n",
        "1,2,a,4\n",
        "\ufeff",
        "\r\n",
        '{"x": 1, "y": 2, "c": "a"}\n',
        "{\n",
        "\x00",
        "é",
        "nan,1,a\n",
    ]
)


@st.composite
def inputs(draw: st.DrawFn) -> bytes:
    body = "".join(draw(st.lists(PIECES, max_size=8))).encode()
    if draw(st.booleans()):
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.binary(min_size=1, max_size=4)) + body[at:]
    return body


@given(body=inputs() | st.binary(max_size=80), suffix=st.sampled_from([".csv", ".jsonl"]))
@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_any_input_file_is_scored_or_refused(body: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / f"in{suffix}", Path(folder) / "out"
        source.write_bytes(body)
        try:
            result = batch_transform(MODEL, source, output, chunk_rows=3)
        except DataError as exc:
            assert exc.message and not output.exists()
        else:
            assert len(output.read_text().splitlines()) == result.rows


def test_input_that_is_not_utf8_names_its_file(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"1,2,a\n1,2,\xff\n")
    with pytest.raises(DataError, match="not UTF-8 text"):
        batch_transform(MODEL, source, tmp_path / "out")
    assert not (tmp_path / "out").exists()
