"""Batch transform: score a file larger than memory in chunks, as SageMaker batch transform does.

Input is line-split: CSV (header optional, as on the endpoint) or JSON Lines. Output has one line
per input record, in order: ``probability,label`` for CSV, ``{"probability", "label"}`` objects
for JSON Lines. The output appears only when every chunk succeeded (written to a temp file,
then renamed).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any, TextIO

import orjson

from driftloop.data.codecs import RowReader
from driftloop.errors import DataError, NotFoundError
from driftloop.serving.models import ServedModel
from driftloop.workspace import atomic_path

Progress = Callable[[int, int], None]  # (bytes read so far, total bytes)


@dataclass(frozen=True)
class TransformResult:
    rows: int
    output: Path


def batch_transform(
    model: ServedModel,
    source: Path,
    output: Path,
    *,
    chunk_rows: int = 10_000,
    progress: Progress | None = None,
) -> TransformResult:
    """Score every record of ``source`` (``.csv`` or ``.jsonl``) into ``output``."""
    if not source.is_file():
        raise NotFoundError(f"input file not found: {source}")
    jsonl = source.suffix.lower() in {".jsonl", ".json"}
    reader = RowReader(model.spec)
    total = source.stat().st_size
    count = 0
    with (
        source.open("r", encoding="utf-8-sig", newline="") as handle,
        atomic_path(output) as tmp,
        tmp.open("w", encoding="utf-8", newline="") as out,
    ):
        chunks = (
            _json_chunks(handle, chunk_rows) if jsonl else _csv_chunks(handle, model, chunk_rows)
        )
        try:
            for columns, rows in chunks:
                batch = reader.read(columns, rows, first_row=count + 1)
                proba = model.predictor.predict_proba(batch)
                out.write(_lines(proba.tolist(), model, jsonl))
                count += len(rows)
                if progress:
                    progress(_position(handle), total)
        except UnicodeDecodeError as exc:
            raise DataError(f"{source}: not UTF-8 text ({exc.reason})") from None
        except csv.Error as exc:
            raise DataError(f"{source}: malformed CSV ({exc})") from None
        if count == 0:
            raise DataError(f"{source}: no records to transform")
    return TransformResult(count, output)


def _position(handle: TextIO) -> int:
    try:
        return handle.buffer.tell()
    except (AttributeError, OSError):
        return 0


def _csv_chunks(
    handle: IO[str], model: ServedModel, size: int
) -> Iterator[tuple[list[str] | None, list[list[str]]]]:
    rows = (row for row in csv.reader(handle) if row)
    first = next(rows, None)
    if first is None:
        return
    known = {c.name for c in model.spec.columns}
    header = first if set(first) <= known and set(model.spec.features) <= set(first) else None
    pending = [] if header else [first]
    while True:
        chunk = pending + list(islice(rows, size - len(pending)))
        pending = []
        if not chunk:
            return
        yield header, chunk


def _json_chunks(handle: IO[str], size: int) -> Iterator[tuple[None, list[Any]]]:
    number = 0
    while True:
        chunk = []
        for line in islice(handle, size):
            number += 1
            if not line.strip():
                continue
            try:
                chunk.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise DataError(f"line {number}: malformed JSON ({exc})") from None
        if not chunk:
            return
        yield None, chunk


def _lines(proba: list[float], model: ServedModel, jsonl: bool) -> str:
    labels = [model.spec.label(p >= model.threshold) for p in proba]
    if jsonl:
        return "".join(
            orjson.dumps({"probability": p, "label": label}).decode() + "\n"
            for p, label in zip(proba, labels, strict=True)
        )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(
        (f"{p:.6f}", label) for p, label in zip(proba, labels, strict=True)
    )
    return buffer.getvalue()
