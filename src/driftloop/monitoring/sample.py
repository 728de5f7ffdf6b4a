"""A bounded, seeded, uniform sample of a window's rows, taken chunk by chunk (bottom-k).

Each row gets a random key from a generator seeded by ``(seed, part, chunk)``; the sample is
the ``size`` rows with the smallest keys, so it is uniform without replacement, never holds
more than ``size`` rows plus one chunk's candidates, and samples of disjoint parts merge.
The Evidently report is drawn on it: the report is a picture, the verdicts come from counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class RowSample:
    """The rows with the ``size`` smallest keys seen so far."""

    def __init__(self, size: int, seed: int = 0, part: int = 0) -> None:
        self.size, self.seed, self.part = size, seed, part
        self.frame: pd.DataFrame | None = None
        self.keys = np.empty(0, dtype=np.float64)
        self.seen = 0
        self.chunks = 0

    def add(self, frame: pd.DataFrame) -> None:
        rng = np.random.default_rng([self.seed, self.part, self.chunks])
        self.chunks += 1
        self.seen += len(frame)
        keys = rng.random(len(frame))
        if len(self.keys) >= self.size:
            chosen = keys < self.keys.max()
            frame, keys = frame[chosen], keys[chosen]
        self._keep(frame.reset_index(drop=True), keys)

    def merge(self, other: RowSample) -> None:
        self.seen += other.seen
        if other.frame is not None:
            self._keep(other.frame, other.keys)

    def _keep(self, frame: pd.DataFrame, keys: np.ndarray) -> None:
        if self.frame is not None:
            frame = pd.concat([self.frame, frame], ignore_index=True)
            keys = np.concatenate([self.keys, keys])
        if len(keys) > self.size:
            order = np.argpartition(keys, self.size - 1)[: self.size]
            order.sort()
            frame, keys = frame.iloc[order].reset_index(drop=True), keys[order]
        self.frame, self.keys = frame, keys
