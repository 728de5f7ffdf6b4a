"""The S3 snapshot, capture and label stores against moto: object layout and metadata, listing
only the hours of a window, versioning reported, problems and errors named."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pandas as pd
import pytest
from moto import mock_aws

from driftloop.backends.aws._s3 import Bucket
from driftloop.backends.aws.capture import S3CaptureStore, S3LabelStore
from driftloop.backends.aws.snapshots import S3SnapshotStore
from driftloop.capture.writer import capture_record
from driftloop.config import Settings, load_settings
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.errors import CloudError, NotFoundError

BUCKET, PREFIX = "driftloop-unit", "team/churn"
SPEC = TabularSpec(
    (ColumnSpec("x", "numeric", "feature"), ColumnSpec("y", "categorical", "target")),
    "y",
    "Yes",
    "No",
)
T0 = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in-process, with a bucket that is not versioned."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def settings(s3: Any, tmp_path: Path) -> Settings:
    aws = {"region": "us-east-1", "bucket": BUCKET, "prefix": PREFIX, "max_attempts": 1}
    return load_settings(home=tmp_path / "ws", backend={"kind": "aws"}, aws=aws)


def _line(when: datetime, inference_id: str) -> bytes:
    return capture_record(
        request=orjson.dumps({"x": 1.0}),
        request_type="application/json",
        response=None,
        response_type="application/json",
        event_id=f"e-{inference_id}",
        inference_id=inference_id,
        when=when,
    )


def test_a_snapshot_is_parquet_with_its_digest_as_metadata(
    settings: Settings, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = S3SnapshotStore(settings)
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": ["Yes", "No"]})
    with caplog.at_level(logging.WARNING):
        snap = store.put(frame, SPEC, name="träin.csv")
    key = f"{PREFIX}/snapshots/{snap.digest}.parquet"
    assert snap.uri == f"s3://{BUCKET}/{key}"
    meta = s3.head_object(Bucket=BUCKET, Key=key)["Metadata"]
    assert meta == {"digest": snap.digest, "rows": "2", "columns": "2", "name": "tr%C3%A4in.csv"}
    # Not versioned: reported once, never refused.
    assert store.versioning() == "Disabled" and "is not versioned" in caplog.text
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    assert S3SnapshotStore(settings).versioning() == "Enabled"
    s3.delete_object(Bucket=BUCKET, Key=f"{PREFIX}/snapshots/{snap.digest}.schema.json")
    with pytest.raises(NotFoundError, match=rf"snapshot {snap.digest} not found in s3://"):
        store.spec(snap.digest)


def test_a_window_lists_only_its_hours_and_names_bad_lines(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3CaptureStore(settings)
    for hours in (-2, 0, 2):
        when = T0 + timedelta(hours=hours)
        store.write("churn", "A", [_line(when, f"r{hours}"), b"{}\n"], when)
    store.write("churn", "B", [_line(T0, "b")], T0)
    listed: list[str] = []
    keys = Bucket.keys
    monkeypatch.setattr(Bucket, "keys", lambda self, p: listed.append(p) or keys(self, p))
    nine = datetime(2026, 3, 1, 9, tzinfo=UTC)
    window = store.read_window("churn", SPEC, since=nine, until=nine + timedelta(hours=1))
    assert window.rows == 0 and window.records == 0
    assert listed == [f"datacapture/churn/{v}/2026/03/01/09/" for v in "AB"]
    listed.clear()
    window = store.read_window("churn", SPEC, since=nine, until=T0 + timedelta(minutes=30))
    assert listed == [f"datacapture/churn/{v}/2026/03/01/{h:02d}/" for v in "AB" for h in (9, 10)]
    assert window.inference_ids == ["r0", "b"] and window.variants == ["A", "B"]
    assert window.records == 3  # the unusable line counts
    ((file, line),) = [(p.file, p.line) for p in window.problems]
    assert file.startswith("churn/A/2026/03/01/10/30-00-000-") and line == 2


def test_labels_are_model_monitor_ground_truth(settings: Settings, s3: Any) -> None:
    store = S3LabelStore(settings)
    ingest = store.put_records("churn", [{"inference_id": "r1", "label": "Yes"}], SPEC)
    assert str(ingest.path).startswith(f"s3://{BUCKET}/{PREFIX}/groundtruth/churn/")
    key = str(ingest.path).removeprefix(f"s3://{BUCKET}/")
    stored = orjson.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert stored["groundTruthData"] == {"data": "1", "encoding": "CSV"}
    old = f"{PREFIX}/groundtruth/churn/2020/01/01/00"
    truth = {"groundTruthData": {"data": "0"}, "eventMetadata": {"eventId": "r2"}}
    s3.put_object(Bucket=BUCKET, Key=f"{old}/mm.jsonl", Body=orjson.dumps(truth))
    s3.put_object(Bucket=BUCKET, Key=f"{old}/notes.txt", Body=b"ignored")
    assert store.read("churn") == {"r2": 0, "r1": 1}
    assert store.read("churn", since=datetime(2021, 1, 1, tzinfo=UTC)) == {"r1": 1}
    s3.put_object(Bucket=BUCKET, Key=f"{old}/zz.jsonl", Body=b'{"groundTruthData": {}}\n')
    labels = store.read("churn")  # a bad line is skipped and named, the others still read
    assert labels == {"r2": 0, "r1": 1}
    assert [(p.file, p.line) for p in labels.skipped] == [(f"s3://{BUCKET}/{old}/zz.jsonl", 1)]


def test_a_missing_bucket_is_named(settings: Settings, s3: Any) -> None:
    s3.delete_bucket(Bucket=BUCKET)
    named = r"datacapture/churn/: the bucket does not exist"
    with pytest.raises(CloudError, match=named):
        S3CaptureStore(settings).read_window("churn", SPEC, since=T0, until=T0 + timedelta(1))
