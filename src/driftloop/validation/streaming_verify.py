"""``constraint_violations.json`` of a window read chunk by chunk: counts, not rows, are kept.

:class:`ConstraintTally` evaluates the built-in checks of :func:`~driftloop.validation.verify`
on each chunk and keeps, per feature and check, how many values were checked and how many failed,
and the first few distinct offending values with their row in the whole window. Its
:meth:`~ConstraintTally.violations` are the ones ``verify`` finds on the whole window (same order,
same descriptions). Tallies of consecutive parts merge (the later part's rows shifted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from driftloop.validation._columns import ParsedColumn, ParsedColumns
from driftloop.validation.constraints import check_constraints, monitoring_config
from driftloop.validation.schema import (
    CATEGORICAL_VALUES_CHECK,
    NON_NEGATIVE_CHECK,
    NUMERIC_TYPES,
    feature_checks,
)
from driftloop.validation.verify import EXAMPLES, Violation, _pct, verify, violation


@dataclass
class _Count:
    """One check of one feature: values checked, values failing, first distinct offenders."""

    checked: int = 0
    failed: int = 0
    examples: list[tuple[int, Any]] = field(default_factory=list)  # (0-based row, value)

    def add(self, checked: int, offenders: pd.Series, first_row: int) -> None:
        self.checked += checked
        self.failed += len(offenders)
        if len(self.examples) >= EXAMPLES or offenders.empty:
            return
        first = offenders[~offenders.duplicated()].head(EXAMPLES)
        self._take(zip((int(r) + first_row for r in first.index), first.tolist(), strict=True))

    def merge(self, other: _Count, row_offset: int) -> None:
        self.checked += other.checked
        self.failed += other.failed
        self._take((row + row_offset, value) for row, value in other.examples)

    def _take(self, pairs: Any) -> None:
        seen = [value for _, value in self.examples]
        for row, value in pairs:
            if len(self.examples) >= EXAMPLES:
                return
            if value not in seen:
                self.examples.append((row, value))
                seen.append(value)

    def text(self) -> str:
        return ", ".join(f"{value!r} (row {row + 1})" for row, value in self.examples)


def _failures(check: Any, column: ParsedColumn, domain: bool) -> pd.Series:
    """The values of ``column`` (text for a domain check, else numbers) that fail ``check``,
    indexed by row: the check runs on the distinct values only, then maps back to the rows."""
    distinct = column.unique_texts if domain else column.unique_numbers
    failed = check(pd.Series(distinct)).failure_cases
    if failed is None or failed.empty:
        return column.values[:0]
    rows = np.isin(column.codes, failed.index.to_numpy())
    values = column.text if domain else column.numbers
    return values[rows]


class ConstraintTally:
    """The built-in checks of ``constraints.json``, counted over a window's chunks."""

    def __init__(
        self, constraints: Mapping[str, Any], *, optional_columns: Sequence[str] = ()
    ) -> None:
        check_constraints(constraints)
        self.constraints, self.optional = constraints, list(optional_columns)
        self.rows = 0
        self.column_set: list[Violation] | None = None
        self.present: set[str] = set()
        self.counts: dict[tuple[str, str], _Count] = {}

    def add(
        self,
        frame: pd.DataFrame,
        first_row: int,
        parsed: Mapping[str, ParsedColumn] | None = None,
    ) -> None:
        """Check one chunk whose first row is row ``first_row`` (0-based) of the window
        (``parsed`` may hold its columns already parsed, see :class:`ParsedColumns`)."""
        columns = ParsedColumns(frame) if parsed is None else parsed
        if self.column_set is None:
            self.column_set = verify(
                frame.iloc[:0], self.constraints, optional_columns=self.optional
            )["violations"]
            self.present = {str(c) for c in frame.columns}
        self.rows += len(frame)
        for feature in self.constraints["features"]:
            name = feature["name"]
            if name not in frame.columns or not self._enabled(feature):
                continue
            column = columns[name]
            present = int(column.present.sum())
            self._count(name, "completeness", present, column.values[:0], 0)
            if feature["inferred_type"] in NUMERIC_TYPES:
                matches = (
                    column.is_integer
                    if feature["inferred_type"] == "Integral"
                    else (column.is_number)
                )
                offenders = column.values[column.present & ~matches]
                self._count(name, "data_type", present, offenders, first_row)
            for check in feature_checks(feature):
                title = str(check.title)
                domain = title == CATEGORICAL_VALUES_CHECK
                checked = present if domain else int(column.is_number.sum())
                self._count(name, title, checked, _failures(check, column, domain), first_row)

    def _count(self, name: str, check: str, checked: int, offenders: pd.Series, row: int) -> None:
        self.counts.setdefault((name, check), _Count()).add(checked, offenders, row)

    def _enabled(self, feature: Mapping[str, Any]) -> bool:
        return bool(
            monitoring_config(self.constraints, feature)["evaluate_constraints"] == "Enabled"
        )

    def merge(self, other: ConstraintTally) -> None:
        """Add the tally of the rows that follow this one's."""
        if self.column_set is None:
            self.column_set, self.present = other.column_set, other.present
        for key, count in other.counts.items():
            self.counts.setdefault(key, _Count()).merge(count, self.rows)
        self.rows += other.rows

    def violations(self) -> list[Violation]:
        """What ``verify`` finds on the whole window, in its order."""
        enabled = monitoring_config(self.constraints)["evaluate_constraints"] == "Enabled"
        found = list(self.column_set or []) if enabled else []
        for feature in self.constraints["features"]:
            name = feature["name"]
            if name not in self.present or not self._enabled(feature):
                continue
            config = monitoring_config(self.constraints, feature)
            found += self._data_type(name, feature, config)
            found += self._completeness(name, feature)
            for check in feature_checks(feature):
                found += self._values(name, str(check.title), config)
        return found

    def _data_type(
        self, name: str, feature: Mapping[str, Any], config: Mapping[str, Any]
    ) -> list[Violation]:
        count = self.counts.get((name, "data_type"))
        expected = feature["inferred_type"]
        if count is None or count.checked == 0:
            return []
        ratio = (count.checked - count.failed) / count.checked
        threshold = float(config["datatype_check_threshold"])
        if ratio >= threshold:
            return []
        return [
            violation(
                name,
                "data_type_check",
                f"Data type match requirement is not met. Expected data type: {expected}, "
                f"Expected match: {_pct(threshold)}%. Observed: Only {_pct(ratio)}% of data is "
                f"{expected}. {count.failed} value(s) are not, e.g. {count.text()}.",
            )
        ]

    def _completeness(self, name: str, feature: Mapping[str, Any]) -> list[Violation]:
        count = self.counts.get((name, "completeness"))
        rows = self.rows
        if "completeness" not in feature or rows == 0 or count is None:
            return []
        expected = float(feature["completeness"])
        observed = count.checked / rows
        if observed >= expected - 1e-12:
            return []
        return [
            violation(
                name,
                "completeness_check",
                f"Data completeness requirement is not met. Expected completeness: "
                f"{_pct(expected)}%. Observed: Only {_pct(observed)}% of data is complete "
                f"({rows - count.checked} of {rows} values missing).",
            )
        ]

    def _values(self, name: str, check: str, config: Mapping[str, Any]) -> list[Violation]:
        count = self.counts.get((name, check))
        if count is None or count.failed == 0:
            return []
        if check == CATEGORICAL_VALUES_CHECK:
            ratio = 1 - count.failed / count.checked
            threshold = float(config["domain_content_threshold"])
            if ratio >= threshold:
                return []
            description = (
                f"Data domain requirement is not met. Expected match: {_pct(threshold)}%. "
                f"Observed: Only {_pct(ratio)}% of data is within the baseline domain. "
                f"{count.failed} value(s) are outside it, e.g. {count.text()}."
            )
            return [violation(name, CATEGORICAL_VALUES_CHECK, description)]
        description = (
            f"Data value requirement is not met. Expected: non-negative values. Observed: "
            f"{count.failed} negative value(s) ({_pct(count.failed / count.checked)}% of data), "
            f"e.g. {count.text()}."
        )
        return [violation(name, NON_NEGATIVE_CHECK, description)]
