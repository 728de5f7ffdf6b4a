"""Reading one window of a capture folder in several processes.

The window's files are cut, at line boundaries, into ``parts`` of about equal bytes, each a run
of consecutive pieces of files in window order. Worker processes first count the lines before
each piece (so every problem keeps its file and line), then each reads its part as a stream of
chunks (:func:`~driftloop.capture.reader.iter_chunks`) through the caller's fold; the results
come back in window order, for the caller to merge. Small windows, or one worker, are read here,
in this process.

Workers are forked from a fork server (on Linux; spawned elsewhere): a small single-threaded
process that imported the reader once. Forking the caller itself would copy whatever its other
threads hold (an agent runs its schedules in threads, MLflow keeps one of its own), so a lock
held at that moment would stay held in the worker forever. :func:`warm_up` starts the server
early, so its imports overlap the caller's own start.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa

from driftloop.capture.base import Fold
from driftloop.capture.reader import blocks_of, folder_files, iter_pieces, utc
from driftloop.data.spec import TabularSpec

MIN_PART_BYTES = 32 << 20  # a window below this many bytes per worker is read in one process
_COUNT_BLOCK = 8 << 20


@dataclass(frozen=True)
class Piece:
    """Bytes ``[start, end)`` of one capture file, starting at line ``first_line``."""

    variant: str
    name: str
    path: Path
    start: int
    end: int
    first_line: int = 1


def workers_for(requested: int | None) -> int:
    """``requested`` workers, or (None) one per core this process may use."""
    if requested is not None:
        return max(1, requested)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


PRELOAD = ["driftloop.capture.parallel", "driftloop.monitoring.job"]  # what workers import


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def warm_up(root: Path, endpoint: str, *, since: datetime, until: datetime, workers: int) -> None:
    """Start the fork server now when :func:`fold_folder` will use workers on this window (of
    any variant), so its imports overlap what the caller does first."""
    files = folder_files(root, endpoint, utc(since), utc(until), None)
    total = sum((root / name).stat().st_size for _, name, _ in files)
    context = _context()
    if _parts(workers, total) > 1 and context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _parts(workers: int, total: int) -> int:
    """How many parts a window of ``total`` bytes is cut into (1: read here, in this process)."""
    return 1 if workers <= 1 else max(1, min(workers * 2, total // MIN_PART_BYTES))


def fold_folder(
    root: Path,
    endpoint: str,
    spec: TabularSpec,
    fold: Fold,
    *,
    since: datetime,
    until: datetime,
    variants: Sequence[str] | None,
    workers: int,
    meanwhile: Callable[[], None] | None = None,
) -> list[Any]:
    """``fold(part, chunks)`` over the parts of the window, in window order; ``meanwhile``
    runs here while the workers read (after the read when there are none)."""
    files = [
        (variant, name, root / name)
        for variant, name, _ in folder_files(root, endpoint, utc(since), utc(until), variants)
    ]
    sizes = [path.stat().st_size for _, _, path in files]
    parts = _parts(workers, sum(sizes))
    if parts <= 1:
        pieces = [Piece(v, n, p, 0, size) for (v, n, p), size in zip(files, sizes, strict=True)]
        folded = [fold(0, _chunks(pieces, spec, since, until))]
        if meanwhile is not None:
            meanwhile()
        return folded
    pieces = _cut(files, sizes, parts)
    with _context().Pool(min(workers, parts)) as pool:
        pieces = _numbered(pieces, pool.map(_newlines, pieces))
        grouped = _group(pieces, parts)
        jobs = [(fold, index, group, spec, since, until) for index, group in enumerate(grouped)]
        reading = pool.map_async(_read_part, jobs, chunksize=1)
        if meanwhile is not None:
            meanwhile()
        return reading.get()


def _chunks(pieces: list[Piece], spec: TabularSpec, since: datetime, until: datetime) -> Any:
    files = ((p.variant, p.name, _blocks(p), p.first_line) for p in pieces)
    return iter_pieces(files, spec, since=since, until=until)


def _read_part(job: tuple[Fold, int, list[Piece], TabularSpec, datetime, datetime]) -> Any:
    fold, index, pieces, spec, since, until = job
    pa.set_cpu_count(1)  # the workers share the cores: Arrow's own threads would only contend
    return fold(index, _chunks(pieces, spec, since, until))


def _blocks(piece: Piece) -> Iterator[bytes]:
    """The piece's bytes in blocks of whole lines (it starts and ends at line ends)."""
    with piece.path.open("rb", buffering=0) as handle:
        handle.seek(piece.start)
        yield from blocks_of(_Bounded(handle, piece.end - piece.start))


class _Bounded:
    """Reads at most ``left`` more bytes of ``handle``."""

    def __init__(self, handle: BinaryIO, left: int) -> None:
        self.handle, self.left = handle, left

    def read(self, size: int) -> bytes:
        data = self.handle.read(min(size, self.left))
        self.left -= len(data)
        return data


def _cut(files: list[tuple[str, str, Path]], sizes: list[int], parts: int) -> list[Piece]:
    """Pieces of the files, cut after a newline near every ``total / parts`` bytes."""
    total = sum(sizes)
    targets = [total * k // parts for k in range(1, parts)]
    pieces: list[Piece] = []
    offset = 0
    for (variant, name, path), size in zip(files, sizes, strict=True):
        cuts = [t - offset for t in targets if offset < t < offset + size]
        bounds = [0]
        with path.open("rb") as handle:
            for cut in cuts:
                handle.seek(cut)
                handle.readline()
                bounds.append(min(handle.tell(), size))
        bounds.append(size)
        bounds = sorted(set(bounds))
        pieces += [Piece(variant, name, path, a, b) for a, b in itertools.pairwise(bounds)]
        offset += size
    return pieces


def _newlines(piece: Piece) -> int:
    found = 0
    with piece.path.open("rb") as handle:
        handle.seek(piece.start)
        left = piece.end - piece.start
        while left > 0:
            block = handle.read(min(_COUNT_BLOCK, left))
            if not block:
                break
            found += block.count(b"\n")
            left -= len(block)
    return found


def _numbered(pieces: list[Piece], newlines: list[int]) -> list[Piece]:
    """Each piece with the number of its first line in its file."""
    numbered, line, last = [], 1, None
    for piece, count in zip(pieces, newlines, strict=True):
        if piece.name != last:
            line, last = 1, piece.name
        numbered.append(Piece(piece.variant, piece.name, piece.path, piece.start, piece.end, line))
        line += count
    return numbered


def _group(pieces: list[Piece], parts: int) -> list[list[Piece]]:
    """Consecutive pieces in ``parts`` groups of about equal bytes."""
    total = sum(p.end - p.start for p in pieces)
    groups: list[list[Piece]] = [[]]
    done = 0
    for piece in pieces:
        if groups[-1] and done >= total * len(groups) / parts:
            groups.append([])
        groups[-1].append(piece)
        done += piece.end - piece.start
    return groups
