"""The snapshot store contract: content-addressed, idempotent, "not found" is NotFoundError."""

from __future__ import annotations

import pandas as pd
import pytest

from driftloop.backends.catalog import Backends
from driftloop.data.spec import ColumnSpec, TabularSpec
from driftloop.errors import NotFoundError

STORES = ("snapshots",)
"""The stores these tests exercise: they run for every backend kind that builds them."""

SPEC = TabularSpec(
    (ColumnSpec("x", "numeric", "feature"), ColumnSpec("y", "categorical", "target")),
    "y",
    "Yes",
    "No",
)


def test_put_is_content_addressed_and_reads_back(backends: Backends) -> None:
    store = backends.snapshots
    frame = pd.DataFrame({"x": [1.0, 2.5, None], "y": ["Yes", "No", "No"]})
    first = store.put(frame, SPEC, name="train")
    again = store.put(frame.copy(), SPEC, name="other name")
    assert first == again and first.rows == 3 and first.digest in first.uri
    assert store.get(first.digest) == first
    pd.testing.assert_frame_equal(store.read(first.digest), frame)
    assert store.spec(first.digest) == SPEC
    changed = store.put(frame.assign(x=[1.0, 2.5, 3.0]), SPEC, name="train")
    assert changed.digest != first.digest


def test_an_unknown_digest_is_not_found(backends: Backends) -> None:
    store = backends.snapshots
    for call in (store.get, store.read, store.spec):
        with pytest.raises(NotFoundError, match="0123456789abcdef"):
            call("0123456789abcdef")
