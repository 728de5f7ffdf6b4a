"""The capture and ground-truth store contracts: where an endpoint's captured records and their
labels are read from (a workspace folder, or the S3 prefix a SageMaker endpoint captures to).

Writing capture records stays with whoever serves: the local endpoint appends them itself (see
:mod:`driftloop.capture.writer`), a SageMaker endpoint captures on its own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from driftloop.capture.labels import LabelIngest, LabelSet
from driftloop.capture.reader import CHUNK_ROWS, Window
from driftloop.data.spec import TabularSpec

Fold = Callable[[int, Iterator[Window]], Any]
"""Reads one part of a window (numbered from 0 in window order) from its chunks."""


class CaptureStore(ABC):
    """Captured records of every endpoint, in SageMaker's data-capture layout."""

    @abstractmethod
    def write(self, endpoint: str, variant: str, records: Sequence[bytes], when: datetime) -> None:
        """Append capture lines (as :func:`~driftloop.capture.writer.capture_record` makes
        them) to the hour of ``when``; for imports and tests, the endpoint writes its own."""

    @abstractmethod
    def read_window(
        self,
        endpoint: str,
        spec: TabularSpec,
        *,
        since: datetime,
        until: datetime,
        variants: Sequence[str] | None = None,
    ) -> Window:
        """Every row ``endpoint`` captured in ``[since, until)`` (of ``variants`` only, when
        given), typed by ``spec``; unusable lines are counted as problems, never raised. An
        endpoint that captured nothing gives an empty window."""

    @abstractmethod
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
        """:meth:`read_window` as a stream of consecutive windows of about ``chunk_rows`` rows
        (see :func:`~driftloop.capture.reader.iter_chunks`): what a reader of any window in
        bounded memory uses."""

    def prepare_fold(
        self, endpoint: str, *, since: datetime, until: datetime, workers: int
    ) -> None:
        """Get ready for a :meth:`fold_window` of this window by ``workers`` processes, so the
        caller can do other work meanwhile (a store that reads serially has nothing to do)."""
        return None

    def fold_window(
        self,
        endpoint: str,
        spec: TabularSpec,
        fold: Fold,
        *,
        since: datetime,
        until: datetime,
        variants: Sequence[str] | None = None,
        workers: int = 1,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[Any]:
        """``fold(part, chunks)`` over consecutive parts of the window, in window order.

        Parts may be read by up to ``workers`` processes (``fold`` must pickle then); a store
        that reads serially gives one part, all the window's chunks. ``meanwhile`` runs in this
        process while workers read (or after a serial read).
        """
        chunks = self.read_chunks(endpoint, spec, since=since, until=until, variants=variants)
        parts = [fold(0, chunks)]
        if meanwhile is not None:
            meanwhile()
        return parts

    @abstractmethod
    def read_records(
        self, endpoint: str, variant: str, *, since: datetime, until: datetime
    ) -> Iterator[dict[str, Any]]:
        """Each capture record (SageMaker's ``captureData`` and ``eventMetadata``) that
        ``variant`` of ``endpoint`` wrote in ``[since, until)``, oldest file first. A line
        that is not a JSON object is skipped; nothing captured gives nothing."""


class LabelStore(ABC):
    """Ground-truth labels in Model Monitor's format, per endpoint."""

    @abstractmethod
    def put_file(self, endpoint: str, source: Path, spec: TabularSpec) -> LabelIngest:
        """Check every line of ``source`` (ground-truth JSON Lines or CSV), then store them all;
        :class:`~driftloop.errors.DataError` naming every bad line stores nothing."""

    @abstractmethod
    def put_records(
        self, endpoint: str, records: list[dict[str, Any]], spec: TabularSpec
    ) -> LabelIngest:
        """Store labels posted as objects, all or none, as :meth:`put_file` does."""

    @abstractmethod
    def read(self, endpoint: str, *, since: datetime | None = None) -> LabelSet:
        """Label (0/1) per row key, from labels stored since ``since``; later ones win. Empty
        when the endpoint has none. A stored line that cannot be read (torn, corrupt) is
        skipped and listed in the result's ``skipped`` with its file and line."""
