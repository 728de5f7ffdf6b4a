import math

import numpy as np
import orjson
import pytest

from driftloop.data.codecs import encode, media_type, parse
from driftloop.errors import DataError, NotAcceptable, PayloadTooLarge, UnsupportedMediaType
from tests.serving_fakes import SPEC

ROW = {"x": 1.5, "y": 2, "c": "a"}


def _parse(body: object, content_type: str = "application/json", max_rows: int = 100):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return parse(raw, content_type, SPEC, max_rows)


@pytest.mark.parametrize(
    "body",
    [
        ROW,
        [ROW],
        {"instances": [ROW]},
        {"instances": [[1.5, 2, "a"]]},
        {"inputs": [ROW]},
        {"inputs": {"x": [1.5], "y": [2], "c": ["a"]}},
        {"dataframe_records": [ROW]},
        {"dataframe_split": {"columns": ["c", "y", "x"], "data": [["a", 2, 1.5]]}},
        [{**ROW, "id": "k1", "label": "yes"}],  # id and target columns are known, and ignored
    ],
)
def test_json_shapes_give_the_same_batch(body: object) -> None:
    batch = _parse(body)
    assert batch.rows == 1
    np.testing.assert_array_equal(batch.numeric, [[1.5, 2.0]])
    assert batch.categorical == [["a"]]


def test_csv_with_and_without_header_and_jsonlines() -> None:
    with_header = _parse(b"c,x,y\na,1.5,2\nb,,3\n", "text/csv")
    headerless = _parse(b"1.5,2,a\n,3,b\n", "text/csv; charset=utf-8")
    lines = _parse(b'{"x":1.5,"y":2,"c":"a"}\n{"x":null,"y":3,"c":"b"}\n', "application/jsonlines")
    for batch in (with_header, headerless, lines):
        assert batch.rows == 2
        assert batch.numeric[0].tolist() == [1.5, 2.0]
        assert math.isnan(batch.numeric[1, 0])
        assert batch.categorical == [["a", "b"]]


def test_numbers_and_codes_are_coerced_like_training() -> None:
    batch = _parse([{"x": "3.5", "y": None, "c": 1}, {"x": 1, "y": 2.0, "c": None}])
    assert batch.numeric[0, 0] == 3.5 and math.isnan(batch.numeric[0, 1])
    assert batch.categorical == [["1", None]]


@pytest.mark.parametrize(
    ("body", "content_type", "error", "message"),
    [
        (b"{}", "application/x-www-form-urlencoded", UnsupportedMediaType, "not supported"),
        (b"   ", "application/json", DataError, "body is empty"),
        (b'{"x": 1,', "application/json", DataError, "malformed JSON"),
        (b"[]", "application/json", DataError, "no rows"),
        (b'"text"', "application/json", DataError, "must be an object or a list"),
        (orjson.dumps({"x": 1, "c": "a"}), "application/json", DataError, "missing column(s): y"),
        (orjson.dumps({**ROW, "z": 1}), "application/json", DataError, "unknown column(s): z"),
        (
            orjson.dumps([ROW, {**ROW, "x": "abc"}]),
            "application/json",
            DataError,
            "row 2, field 'x': expected a number, got 'abc'",
        ),
        (
            orjson.dumps({**ROW, "y": "NaN"}),
            "application/json",
            DataError,
            "field 'y': expected a finite number",
        ),
        (
            orjson.dumps({**ROW, "y": "-inf"}),
            "application/json",
            DataError,
            "field 'y': expected a finite number",
        ),
        (
            orjson.dumps({**ROW, "y": True}),
            "application/json",
            DataError,
            "field 'y': expected a number",
        ),
        (
            orjson.dumps({**ROW, "c": ["a"]}),
            "application/json",
            DataError,
            "field 'c': expected a string, got list",
        ),
        (b"1,2\n", "text/csv", DataError, "row 1 has 2 values, expected 3"),
        (b"\xff\xfe1,2,a", "text/csv", DataError, "not UTF-8"),
        (orjson.dumps([ROW] * 101), "application/json", PayloadTooLarge, "101 rows"),
    ],
)
def test_bad_requests_name_the_problem(
    body: bytes, content_type: str, error: type, message: str
) -> None:
    with pytest.raises(error) as raised:
        parse(body, content_type, SPEC, 100)
    assert message in raised.value.message
    assert raised.value.status_code in (400, 413, 415)


def test_row_and_field_are_in_details() -> None:
    with pytest.raises(DataError) as raised:
        _parse([ROW, ROW, {**ROW, "x": "oops"}])
    assert raised.value.details == {"field": "x", "row": 3}


def test_media_type_and_encoding() -> None:
    assert media_type("Text/CSV; charset=utf-8") == "text/csv"
    assert media_type(None) == "application/json"
    assert media_type("*/*") == "application/json"
    proba = np.array([0.25, 0.75])
    body, kind = encode(proba, ["no", "yes"], "application/json", version="3", variant="A")
    assert kind == "application/json"
    assert orjson.loads(body) == {
        "predictions": [
            {"probability": 0.25, "label": "no"},
            {"probability": 0.75, "label": "yes"},
        ],
        "model_version": "3",
        "variant": "A",
    }
    body, kind = encode(proba, ["no", "yes"], "text/csv", version="3", variant="A")
    assert body == b"0.250000,no,3,A\n0.750000,yes,3,A\n"
    with pytest.raises(NotAcceptable):
        encode(proba, ["no", "yes"], "image/png", version="3", variant="A")
