"""The capture writer: byte-exact SageMaker lines, and what a full disk does to capture."""

from __future__ import annotations

import base64
import errno
import itertools
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from driftloop.capture.writer import CaptureWriter, capture_record, new_event_id
from driftloop.workspace import Workspace
from tests.workspaces import event_bus

WHEN = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
TEXT = {"text/csv": "CSV", "application/json": "JSON", "application/jsonlines": "JSON"}


def _dict_record(
    request: bytes | None, request_type: str, response: bytes | None, inference_id: str | None
) -> bytes:
    """The record built as a dict and dumped whole: the oracle the joined bytes must equal."""

    def payload(body: bytes, content_type: str, mode: str) -> dict[str, str]:
        encoding = TEXT.get(content_type)
        try:
            data = body.decode("utf-8") if encoding else None
        except UnicodeDecodeError:
            data = None
        if data is None or encoding is None:
            encoding, data = "BASE64", base64.b64encode(body).decode("ascii")
        return {
            "observedContentType": content_type,
            "mode": mode,
            "data": data,
            "encoding": encoding,
        }

    data = {}
    if request is not None:
        data["endpointInput"] = payload(request, request_type, "INPUT")
    if response is not None:
        data["endpointOutput"] = payload(response, "application/json", "OUTPUT")
    metadata = {"eventId": "e-1", "inferenceTime": "2026-03-04T05:06:07Z"}
    if inference_id:
        metadata["inferenceId"] = inference_id
    record = {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
    return orjson.dumps(record) + b"\n"


BODIES = [
    None,
    b'{"a": "q\\"uote"}',
    b"1,2,\xc3\xa9\n3,4,x",
    b"\xff\x00bin",
    b"",
    "\u2028".encode(),
]
TYPES = ["application/json", "text/csv", "application/octet-stream", 'odd"type\n']


@pytest.mark.parametrize(
    ("request_type", "inference_id"),
    list(itertools.product(TYPES, [None, "", 'id "1"\u0001'])),
)
def test_capture_lines_equal_the_dumped_record(request_type: str, inference_id: str | None) -> None:
    for request, response in itertools.product(BODIES, BODIES):
        line = capture_record(
            request=request,
            request_type=request_type,
            response=response,
            response_type="application/json",
            event_id="e-1",
            inference_id=inference_id,
            when=WHEN,
        )
        assert line == _dict_record(request, request_type, response, inference_id)


def test_each_line_has_its_own_second() -> None:
    def time_of(when: datetime) -> str:
        line = capture_record(
            request=b"1",
            request_type="text/csv",
            response=None,
            response_type="text/csv",
            event_id="e",
            inference_id=None,
            when=when,
        )
        return str(json.loads(line)["eventMetadata"]["inferenceTime"])

    later = datetime(2027, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    seen = [time_of(w) for w in (WHEN, WHEN.replace(microsecond=1), later, WHEN)]
    assert seen == ["2026-03-04T05:06:07Z"] * 2 + ["2027-12-31T23:59:59Z", "2026-03-04T05:06:07Z"]


def test_event_ids_are_version_4_uuids() -> None:
    ids = {new_event_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def _line(n: int) -> bytes:
    return capture_record(
        request=f'{{"n": {n}}}'.encode(),
        request_type="application/json",
        response=b'{"p": 0.5}',
        response_type="application/json",
        event_id=f"e-{n}",
        inference_id=f"i-{n}",
        when=WHEN,
    )


def _captured(root: Path) -> list[str]:
    lines = [line for f in sorted(root.rglob("*.jsonl")) for line in f.read_text().splitlines()]
    return [json.loads(line)["eventMetadata"]["inferenceId"] for line in lines]


@contextmanager
def _device_full(writer: CaptureWriter, variant: str) -> Iterator[None]:
    """The writer's open capture file swapped for /dev/full (every write fails with ENOSPC
    from the kernel) until the block ends; then the real file is back, as when space returns."""
    (_, fd) = writer._open[variant]
    saved = os.dup(fd)
    full = os.open("/dev/full", os.O_WRONLY)
    try:
        os.dup2(full, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(full)


def test_a_full_disk_drops_and_counts_records_then_capture_resumes(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    bus = event_bus(workspace)
    writer = CaptureWriter(tmp_path / "capture", "churn", events=bus)
    assert writer.write("A", _line(1), WHEN)
    with _device_full(writer, "A"):
        with pytest.raises(OSError) as real:  # the device really refuses
            os.write(writer._open["A"][1], b"x")
        assert real.value.errno == errno.ENOSPC
        assert [writer.write("A", _line(n), WHEN) for n in (2, 3, 4)] == [False] * 3
        assert writer.lost == {"A": 3}
    assert writer.write("A", _line(5), WHEN)
    assert writer.lost == {}
    assert _captured(tmp_path / "capture") == ["i-1", "i-5"]  # whole lines only
    events = [e for e in bus.read_events() if e["detail-type"] == "Capture Records Lost"]
    assert [e["detail"]["state"] for e in events] == ["failing", "resumed"]
    assert events[1]["detail"] == {
        "endpoint": "churn",
        "variant": "A",
        "state": "resumed",
        "lost": 3,
    }
    assert events[0]["source"] == "driftloop.capture" and "space" in events[0]["detail"]["reason"]
    writer.close()


def test_other_write_errors_are_raised(tmp_path: Path) -> None:
    writer = CaptureWriter(tmp_path / "capture", "churn")
    assert writer.write("A", _line(1), WHEN)
    os.close(writer._open["A"][1])  # a bug, not a full disk: EBADF must surface
    with pytest.raises(OSError) as raised:
        writer.write("A", _line(2), WHEN)
    assert raised.value.errno == errno.EBADF
    writer._open.clear()


_FILE_LIMIT_SCRIPT = """
import json, os, resource, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from driftloop.capture.writer import CaptureWriter, capture_record

when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
def line(n):
    return capture_record(request=b'{"n": %d}' % n, request_type="application/json",
        response=None, response_type="application/json", event_id="e",
        inference_id=f"i-{n}", when=when)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
writer = CaptureWriter(Path(sys.argv[1]), "churn")
results = [writer.write("A", line(1), when)]
size = os.fstat(writer._open["A"][1]).st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 10, resource.RLIM_INFINITY))
results += [writer.write("A", line(n), when) for n in (2, 3)]  # a torn write, then none
lost = dict(writer.lost)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
results.append(writer.write("A", line(4), when))
print(json.dumps({"results": results, "lost": lost, "after": writer.lost}))
"""


def test_a_file_size_limit_tears_no_line(tmp_path: Path) -> None:
    """RLIMIT_FSIZE: the kernel writes part of a line up to the limit, then refuses (EFBIG)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _FILE_LIMIT_SCRIPT, str(tmp_path / "capture")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome == {"results": [True, False, False, True], "lost": {"A": 2}, "after": {}}
    assert _captured(tmp_path / "capture") == ["i-1", "i-4"]
