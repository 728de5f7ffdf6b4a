"""Hours of the capture layouts as S3 prefixes, and parsing fed from memory (as S3 stores do)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson

from driftloop.capture.labels import labels_in
from driftloop.capture.layout import hour_files, hour_of, hour_prefixes
from driftloop.capture.reader import parse_window, records_in
from driftloop.capture.writer import capture_record
from tests.serving_fakes import SPEC

WHEN = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)


def test_hour_prefixes_cover_the_window_across_day_and_month_ends() -> None:
    assert list(hour_prefixes(WHEN, WHEN + timedelta(minutes=31))) == [
        "2026/02/28/23",
        "2026/03/01/00",
    ]
    assert list(hour_prefixes(WHEN, WHEN + timedelta(minutes=30))) == ["2026/02/28/23"]
    assert list(hour_prefixes(WHEN, WHEN)) == []
    assert hour_of(datetime(2026, 3, 1, 1, 5, tzinfo=timezone(timedelta(hours=2)))) == (
        "2026/02/28/23"
    )


def test_hour_files_keep_jsonl_files_of_hours_ending_after_since() -> None:
    names = [
        "2026/02/28/22/a.jsonl",
        "2026/02/28/23/b.jsonl",
        "2026/02/28/23/c.txt",
        "2026/02/28/23/deeper/d.jsonl",
        "2026/02/30/00/e.jsonl",  # not a date
        "notes/f.jsonl",
    ]
    assert list(hour_files(names, None)) == names[:2]
    assert list(hour_files(names, WHEN)) == ["2026/02/28/23/b.jsonl"]


def test_windows_records_and_labels_parse_lines_from_memory() -> None:
    line = capture_record(
        request=orjson.dumps({"x": 1, "y": 2, "c": "a"}),
        request_type="application/json",
        response=None,
        response_type="application/json",
        event_id="e1",
        inference_id=None,
        when=WHEN,
    )
    files = [("A", "ep/A/2026/02/28/23/f.jsonl", [line, b"", b"[1]"])]
    window = parse_window(files, SPEC, since=WHEN, until=WHEN + timedelta(seconds=1))
    assert (window.rows, window.records, window.event_ids) == (1, 2, ["e1"])
    assert [(p.file, p.line) for p in window.problems] == [("ep/A/2026/02/28/23/f.jsonl", 3)]
    assert [r["eventMetadata"]["eventId"] for r in records_in(files, since=WHEN, until=WHEN)] == []
    found = records_in(files, since=WHEN, until=WHEN + timedelta(seconds=1))
    assert [r["eventMetadata"]["eventId"] for r in found] == ["e1"]
    truth = b'{"groundTruthData": {"data": "1"}, "eventMetadata": {"eventId": "e1"}}\n'
    assert labels_in([("one", truth), ("two", truth.replace(b'"1"', b'"0"'))]) == {"e1": 0}
