"""Batch transform streams a file in chunks and writes all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from driftloop.errors import DataError
from driftloop.serving.batch import batch_transform
from driftloop.serving.compiled import Batch
from driftloop.serving.models import ServedModel
from tests.serving_fakes import SPEC, Summing


class Recording(Summing):
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def predict_proba(self, batch: Batch) -> np.ndarray:
        self.sizes.append(batch.rows)
        return super().predict_proba(batch)


def _model() -> tuple[ServedModel, Recording]:
    predictor = Recording()
    return ServedModel("fake", "1", SPEC, 0.5, predictor), predictor


def test_csv_in_chunks_keeps_order(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("x,y,c\n" + "".join(f"{i % 90},10,a\n" for i in range(2500)))
    model, predictor = _model()
    seen: list[int] = []
    result = batch_transform(
        model, source, tmp_path / "out.csv", chunk_rows=1000, progress=lambda d, t: seen.append(d)
    )
    assert result.rows == 2500
    assert predictor.sizes == [1000, 1000, 500]
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert len(lines) == 2500
    assert lines[0] == "0.100000,no" and lines[89] == "0.990000,yes"
    assert seen and seen[-1] == source.stat().st_size


def test_headerless_csv_and_jsonlines(tmp_path: Path) -> None:
    model, _ = _model()
    (tmp_path / "a.csv").write_text("50,10,a\n1,1,b\n")
    batch_transform(model, tmp_path / "a.csv", tmp_path / "a.out")
    assert (tmp_path / "a.out").read_text() == "0.600000,yes\n0.020000,no\n"
    (tmp_path / "b.jsonl").write_text(
        '{"x": 50, "y": 10, "c": "a"}\n\n{"x": 1, "y": 1, "c": null}\n'
    )
    batch_transform(model, tmp_path / "b.jsonl", tmp_path / "b.out")
    rows = [json.loads(line) for line in (tmp_path / "b.out").read_text().splitlines()]
    assert rows == [{"probability": 0.6, "label": "yes"}, {"probability": 0.02, "label": "no"}]


def test_a_bad_row_in_a_later_chunk_names_its_row_and_leaves_no_output(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    rows = [f"{i},1,a\n" for i in range(1500)]
    rows[1234] = "oops,1,a\n"
    source.write_text("x,y,c\n" + "".join(rows))
    model, _ = _model()
    with pytest.raises(DataError, match="row 1235, field 'x'"):
        batch_transform(model, source, tmp_path / "out.csv", chunk_rows=500)
    assert not (tmp_path / "out.csv").exists()
    assert list(tmp_path.iterdir()) == [source]
