"""The S3 capture and ground-truth stores, in SageMaker's layouts under the bucket's prefix:
``datacapture/{endpoint}/{variant}/YYYY/MM/DD/HH/*.jsonl`` (what an endpoint's data capture
writes) and ``groundtruth/{endpoint}/YYYY/MM/DD/HH/*.jsonl`` (what Model Monitor merges).

Parsing is :mod:`driftloop.capture`'s, shared with the folder stores; this module only lists
and fetches objects. A window of up to a day lists each of its hour prefixes; a longer one (a
retrain reads every captured hour) walks the year, month, day and hour "folders" that exist,
keeping those that overlap it, so its cost follows what was captured, not how long the window
is.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.backends.aws._clients import translated
from driftloop.backends.aws._s3 import Bucket
from driftloop.capture.base import CaptureStore, LabelStore
from driftloop.capture.labels import (
    LabelIngest,
    Labels,
    LabelSet,
    file_labels,
    labels_in,
    record_labels,
    store_labels,
)
from driftloop.capture.layout import hour_files, hour_of, hour_prefixes, utc
from driftloop.capture.reader import (
    CHUNK_ROWS,
    CaptureFile,
    Window,
    blocks_of,
    iter_chunks,
    parse_window,
    records_in,
)
from driftloop.capture.writer import capture_file_name
from driftloop.data.spec import TabularSpec

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends
    from driftloop.config import Settings

CAPTURE, GROUND_TRUTH = "datacapture", "groundtruth"
HOUR_BY_HOUR = timedelta(days=1)
"""The longest window whose hour prefixes are listed one by one."""
_WIDTHS = (4, 2, 2, 2)  # digits of the YYYY, MM, DD and HH folders


class S3CaptureStore(CaptureStore):
    """Captured records under ``<prefix>/datacapture/`` of the configured bucket."""

    def __init__(self, settings: Settings, _stores: Backends | None = None) -> None:
        self.bucket = Bucket(settings)

    def write(self, endpoint: str, variant: str, records: Sequence[bytes], when: datetime) -> None:
        # S3 cannot append: each call is a new object in the hour of ``when``.
        if records:
            name = capture_file_name(when, uuid.uuid4().hex[:8])
            key = f"{CAPTURE}/{endpoint}/{variant}/{hour_of(when)}/{name}"
            self.bucket.put(key, b"".join(records))

    def read_window(
        self,
        endpoint: str,
        spec: TabularSpec,
        *,
        since: datetime,
        until: datetime,
        variants: Sequence[str] | None = None,
    ) -> Window:
        files = self._files(endpoint, since, until, variants)
        return parse_window(files, spec, since=since, until=until)

    def read_chunks(
        self,
        endpoint: str,
        spec: TabularSpec,
        *,
        since: datetime,
        until: datetime,
        variants: Sequence[str] | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ) -> Iterator[Window]:
        files = self._files(endpoint, since, until, variants)
        return iter_chunks(files, spec, since=since, until=until, chunk_rows=chunk_rows)

    def read_records(
        self, endpoint: str, variant: str, *, since: datetime, until: datetime
    ) -> Iterator[dict[str, Any]]:
        files = self._files(endpoint, since, until, [variant])
        return records_in(files, since=since, until=until)

    def _files(
        self, endpoint: str, since: datetime, until: datetime, variants: Sequence[str] | None
    ) -> Iterator[CaptureFile]:
        """Each capture object in an hour overlapping the window, variant by variant, fetched
        when the reader gets to it; names are relative to ``datacapture/``."""
        root = f"{CAPTURE}/{endpoint}/"
        names = sorted(set(variants)) if variants is not None else _folders(self.bucket, root)
        for variant in names:
            for hour in _hours(self.bucket, f"{root}{variant}/", utc(since), utc(until)):
                folder = f"{root}{variant}/{hour}/"
                for key in sorted(self.bucket.keys(folder)):
                    file = key[len(folder) :]
                    if "/" not in file and file.endswith(".jsonl"):
                        body = blocks_of(io.BytesIO(self.bucket.get(key)))
                        yield variant, key[len(CAPTURE) + 1 :], body


class S3LabelStore(LabelStore):
    """Ground truth under ``<prefix>/groundtruth/`` of the configured bucket."""

    def __init__(self, settings: Settings, _stores: Backends | None = None) -> None:
        self.bucket = Bucket(settings)

    def put_file(self, endpoint: str, source: Path, spec: TabularSpec) -> LabelIngest:
        return self._store(endpoint, file_labels(source, spec), source.name)

    def put_records(
        self, endpoint: str, records: list[dict[str, Any]], spec: TabularSpec
    ) -> LabelIngest:
        return self._store(endpoint, record_labels(records, spec), "request")

    def read(self, endpoint: str, *, since: datetime | None = None) -> LabelSet:
        root = f"{GROUND_TRUTH}/{endpoint}/"
        names = hour_files((key[len(root) :] for key in self.bucket.keys(root)), since)
        return labels_in((self.bucket.uri(root + n), self.bucket.get(root + n)) for n in names)

    def _store(self, endpoint: str, labels: Labels, source: str) -> LabelIngest:
        def write(relative: str, body: bytes) -> str:
            key = f"{GROUND_TRUTH}/{relative}"
            self.bucket.put(key, body)
            return self.bucket.uri(key)

        return store_labels(endpoint, labels, source, write)


def _hours(bucket: Bucket, relative: str, since: datetime, until: datetime) -> list[str]:
    """The ``YYYY/MM/DD/HH`` prefixes under ``relative`` that overlap ``[since, until)``, in
    time order: every hour of a window up to :data:`HOUR_BY_HOUR` long, else the hour folders
    that exist, found level by level (zero-padded names compare as their times do)."""
    if until - since <= HOUR_BY_HOUR:
        return list(hour_prefixes(since, until))
    first, last = hour_of(since), hour_of(until - timedelta(microseconds=1))
    found = [""]
    for width in _WIDTHS:
        deeper = []
        for parent in found:
            for name in _folders(bucket, relative + parent):
                path = parent + name
                dated = len(name) == width and name.isdigit()
                if dated and first[: len(path)] <= path <= last[: len(path)]:
                    deeper.append(path + "/")
        found = deeper
    return [path.rstrip("/") for path in found]


def _folders(bucket: Bucket, relative: str) -> list[str]:
    """Names of the "folders" right under ``relative`` (S3 common prefixes), sorted."""
    prefix = bucket.key(relative)
    pages = bucket.s3.get_paginator("list_objects_v2")
    with translated("s3", "ListObjectsV2", bucket.uri(relative)):
        found = [
            item["Prefix"]
            for page in pages.paginate(Bucket=bucket.name, Prefix=prefix, Delimiter="/")
            for item in page.get("CommonPrefixes", [])
        ]
    return sorted(str(p)[len(prefix) :].rstrip("/") for p in found)
