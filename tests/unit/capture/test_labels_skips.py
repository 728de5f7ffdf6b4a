"""A torn or corrupt line in a stored ground-truth file is a counted, reported skip (its file
and line), never a lost label file and never a silent loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.backends.local.capture import FolderLabelStore
from driftloop.capture.labels import labels_in, labels_root
from driftloop.workspace import Workspace
from tests.serving_fakes import SPEC

ENDPOINT = "fake-endpoint"


@pytest.fixture
def store(tmp_path: Path) -> FolderLabelStore:
    return FolderLabelStore(Workspace(tmp_path).ensure())


def _stored_file(store: FolderLabelStore) -> Path:
    records = [{"inference_id": f"i{n}", "label": n % 2} for n in range(6)]
    store.put_records(ENDPOINT, records, SPEC)
    (path,) = labels_root(store.workspace).rglob("*.jsonl")
    return path


def test_a_torn_last_line_is_skipped_and_named(store: FolderLabelStore) -> None:
    path = _stored_file(store)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 25])  # a writer stopped mid-line
    labels = store.read(ENDPOINT)
    assert labels == {f"i{n}": n % 2 for n in range(5)}  # every whole line is still read
    ((problem),) = labels.skipped
    assert (problem.file, problem.line) == (str(path), 6)
    assert problem.reason.startswith("label line: not JSON")


def test_corrupt_lines_anywhere_are_each_counted(store: FolderLabelStore) -> None:
    path = _stored_file(store)
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = b"\x00\xff garbage\n"
    lines[3] = lines[3].replace(b'"data":"1"', b'"data":"maybe"')
    path.write_bytes(b"".join([*lines, b"[]\n", b"\n"]))
    labels = store.read(ENDPOINT)
    assert set(labels) == {"i0", "i2", "i4", "i5"}
    found = [(p.line, p.reason.split(":")[1].strip()) for p in labels.skipped]
    assert found == [
        (2, "not JSON"),
        (4, "label 'maybe' is not one of '1', '0', 'true', 'false'"),
        (7, "expected an object"),
    ]
    assert all(p.file == str(path) for p in labels.skipped)


def test_objects_read_by_name_report_their_own_names() -> None:
    good = (
        b'{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "e"}}'
    )
    labels = labels_in([("s3://bucket/groundtruth/a.jsonl", good + b"\n{\n"), ("b.jsonl", good)])
    assert labels == {"e": 1}
    assert [(p.file, p.line) for p in labels.skipped] == [("s3://bucket/groundtruth/a.jsonl", 2)]
