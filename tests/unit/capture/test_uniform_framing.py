"""Which captured bodies the bulk path may read as one JSON line each (the fast search of all
their bytes at once answers exactly as a search of each body would), and the lines it makes."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from driftloop.capture import _uniform
from tests.unit.capture.test_capture_fuzz import FUZZ

TEXTS = st.lists(
    st.none()
    | st.text(alphabet="{}\n\r a\x00é", max_size=6).map(lambda t: "{" + t + "}")
    | st.text(max_size=4),
    max_size=12,
)


def _expected(texts: list[str | None]) -> list[bool]:
    return [
        t is not None and t.startswith("{") and t.endswith("}") and "\n" not in t and "\r" not in t
        for t in texts
    ]


@given(texts=TEXTS, start=st.integers(0, 12), length=st.integers(0, 12))
@FUZZ
def test_framed_bodies_are_those_of_one_line_each(
    texts: list[str | None], start: int, length: int
) -> None:
    array = pa.array(texts, pa.string())
    assert _uniform._framed(array).tolist() == _expected(texts)
    part = array.slice(start, length)  # a slice shares the buffers of the whole array
    assert _uniform._framed(part).tolist() == _expected(texts[start : start + length])


def test_a_break_in_one_body_rejects_that_body_alone() -> None:
    texts = ['{"a":1}', '{"b":\n2}', None, '{"c":\r3}', '{"d":4}']
    assert _uniform._framed(pa.array(texts)).tolist() == [True, False, False, False, True]
    assert _uniform._framed(pa.array([None, None], pa.string())).tolist() == [False, False]


@given(texts=st.lists(st.text(max_size=5), max_size=10), start=st.integers(0, 10))
@FUZZ
def test_bodies_become_one_newline_ended_line_each(texts: list[str], start: int) -> None:
    for kind in (pa.string(), pa.large_string()):
        part = pa.array(texts, kind).slice(start)
        expected = "".join(t + "\n" for t in texts[start:]).encode()
        assert _uniform._lines_of(part).to_pybytes() == expected
