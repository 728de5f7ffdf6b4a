"""Everything a monitoring run needs from its window, accumulated chunk by chunk.

A :class:`WindowSummary` takes the chunks of a window (see
:func:`driftloop.capture.reader.iter_chunks`) one at a time and keeps only bounded state: the
statistics' value counts, the constraint checks' counts, model quality's labelled rows and
binned probabilities, a seeded sample of rows for the report, and the input problems
(counted, the first few of each file kept, see :mod:`driftloop.monitoring.problems`). What it
gives equals what the checks give on the whole window: drift is tested on each feature's exact
value counts (the very state the drift tests read), except for a numeric feature with more than
``MAX_DISTINCT`` distinct values, whose counts come from its KLL sketch (the feature is listed
in ``DriftResult.from_sketch``). Summaries of consecutive parts merge, in order.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from driftloop.capture.reader import Window
from driftloop.data.spec import TabularSpec
from driftloop.errors import DataError
from driftloop.monitoring._stattests import Counts
from driftloop.monitoring.drift import DriftResult, DriftSettings, drift_of_counts
from driftloop.monitoring.problems import ProblemLog
from driftloop.monitoring.quality import QualityTally
from driftloop.monitoring.reference import ReferenceProfile
from driftloop.monitoring.sample import RowSample
from driftloop.validation._columns import ParsedColumns
from driftloop.validation.streaming_statistics import StatisticsAccumulator
from driftloop.validation.streaming_verify import ConstraintTally


class WindowSummary:
    """Statistics, constraint counts, quality and a row sample of a window, by chunks."""

    def __init__(
        self,
        spec: TabularSpec,
        constraints: dict[str, Any],
        *,
        optional_columns: list[str],
        quality: QualityTally | None,
        sample_rows: int,
        seed: int = 0,
        part: int = 0,
        max_distinct: int | None = None,
    ) -> None:
        self.statistics = StatisticsAccumulator(spec, max_distinct)
        self.tally = ConstraintTally(constraints, optional_columns=optional_columns)
        self.quality = quality
        self.sample = RowSample(sample_rows, seed, part)
        self.problems = ProblemLog()
        self.records = 0
        self.rows = 0
        self.seconds: dict[str, float] = {}

    def add(self, chunk: Window) -> None:
        self.problems.add(chunk.problems)
        self.records += chunk.records
        if not chunk.rows:
            return
        first_row = self.rows
        self.rows += chunk.rows
        started = time.perf_counter()
        parsed = ParsedColumns(chunk.frame)  # each column parsed once for both checks
        self.statistics.add(chunk.frame, parsed)
        started = self._lap("statistics", started)
        self.tally.add(chunk.frame, first_row, parsed)
        started = self._lap("constraints", started)
        if self.quality is not None:
            self.quality.add(chunk)
        started = self._lap("quality", started)
        if self.sample.size:
            self.sample.add(chunk.frame)
        self._lap("report sample", started)

    def _lap(self, step: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[step] = self.seconds.get(step, 0.0) + now - started
        return now

    def merge(self, other: WindowSummary) -> None:
        """Add the summary of the part of the window that follows this one's."""
        self.problems.merge(other.problems)
        self.records += other.records
        self.rows += other.rows
        self.statistics.merge(other.statistics)
        self.tally.merge(other.tally)
        if self.quality is not None and other.quality is not None:
            self.quality.merge(other.quality)
        self.sample.merge(other.sample)
        for step, seconds in other.seconds.items():
            self.seconds[step] = self.seconds.get(step, 0.0) + seconds

    def drift(self, profile: ReferenceProfile, settings: DriftSettings) -> DriftResult:
        """The drift verdicts of the whole window, from its value counts."""
        counts = {c.name: self.counts(c.name, c.column_type == "num") for c in profile.columns}
        result = drift_of_counts(profile, counts, self.rows, settings)
        sketched = [
            name for name, state in self.statistics.numbers.items() if not state.settled().exact
        ]
        result.from_sketch.extend(n for n in sketched if n in counts)
        return result

    def counts(self, name: str, numeric: bool) -> Counts:
        """The window's value counts of one feature, as the drift tests read them."""
        if numeric:
            values, counts = self.statistics.numbers[name].weighted()
            found = Counts(values, counts)
        else:
            texts = self.statistics.texts[name]
            keys = sorted(texts)
            found = Counts(
                np.array(keys, dtype=object), np.array([texts[k] for k in keys], np.int64)
            )
        if found.values.size == 0:
            raise DataError(
                f"current data: column '{name}' has no values (all missing), drift cannot be "
                "tested",
                details={"column": name},
            )
        return found
