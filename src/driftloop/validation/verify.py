"""Check a frame against a ``constraints.json``; the result is ``constraint_violations.json``.

Descriptions follow Model Monitor's wording and add example values with their row (the 1-based
data row, header not counted). Thresholds mean what they mean in Model Monitor: the *required*
share of matching values (1.0, the default, tolerates no mismatch).

Extension point: a :data:`FeatureCheck` is any callable taking a :class:`CheckContext` and
returning violations; pass more of them as ``verify(..., extra_checks=[...])`` (the monitoring
module adds ``baseline_drift_check`` this way). Extra checks run even when
``evaluate_constraints`` is ``Disabled``, which only turns off the built-in checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from driftloop.validation._columns import ParsedColumn
from driftloop.validation.constraints import check_constraints, ignored_columns, monitoring_config
from driftloop.validation.schema import (
    CATEGORICAL_VALUES_CHECK,
    NON_NEGATIVE_CHECK,
    NUMERIC_TYPES,
    feature_checks,
)

Violation = dict[str, str]
EXAMPLES = 3


@dataclass(frozen=True)
class CheckContext:
    """What a feature check sees: the feature's column, its constraints and its config."""

    name: str
    column: ParsedColumn
    feature: Mapping[str, Any]  # the feature's entry in constraints.json
    config: Mapping[str, Any]  # monitoring_config, with defaults and the feature's overrides


FeatureCheck = Callable[[CheckContext], list[Violation]]


def verify(
    frame: pd.DataFrame,
    constraints: Mapping[str, Any],
    *,
    optional_columns: Sequence[str] = (),
    extra_checks: Sequence[FeatureCheck] = (),
) -> dict[str, list[Violation]]:
    """Evaluate ``constraints`` on ``frame`` and return ``{"violations": [...]}``.

    Columns in ``optional_columns`` (the target, for captured traffic) may be absent. Bad values
    are violations, not exceptions; only a malformed ``constraints`` raises :class:`DataError`.
    """
    check_constraints(constraints)
    enabled = monitoring_config(constraints)["evaluate_constraints"] == "Enabled"
    violations = _column_set_violations(frame, constraints, optional_columns) if enabled else []
    for feature in constraints["features"]:
        if feature["name"] not in frame.columns:
            continue
        config = monitoring_config(constraints, feature)
        column = ParsedColumn(frame[feature["name"]])
        context = CheckContext(feature["name"], column, feature, config)
        builtin = FEATURE_CHECKS if config["evaluate_constraints"] == "Enabled" else ()
        for check in (*builtin, *extra_checks):
            violations.extend(check(context))
    return {"violations": violations}


def violation(name: str, check_type: str, description: str) -> Violation:
    """One entry of ``constraint_violations.json``."""
    return {"feature_name": name, "constraint_check_type": check_type, "description": description}


def data_type_check(context: CheckContext) -> list[Violation]:
    """Share of present values of the baseline type below ``datatype_check_threshold``.

    Whole numbers count as Fractional too; String accepts every value, so is never checked.
    """
    expected = context.feature["inferred_type"]
    column = context.column
    checked = int(column.present.sum())
    if expected not in NUMERIC_TYPES or checked == 0:
        return []
    matches = column.is_integer if expected == "Integral" else column.is_number
    ratio = int(matches.sum()) / checked
    threshold = float(context.config["datatype_check_threshold"])
    if ratio >= threshold:
        return []
    offenders = column.values[column.present & ~matches]
    return [
        violation(
            context.name,
            "data_type_check",
            f"Data type match requirement is not met. Expected data type: {expected}, "
            f"Expected match: {_pct(threshold)}%. Observed: Only {_pct(ratio)}% of data is "
            f"{expected}. {len(offenders)} value(s) are not, e.g. {_examples(offenders)}.",
        )
    ]


def completeness_check(context: CheckContext) -> list[Violation]:
    """Share of present values below the baseline's ``completeness``."""
    rows = len(context.column)
    if "completeness" not in context.feature or rows == 0:
        return []
    expected = float(context.feature["completeness"])
    present = int(context.column.present.sum())
    observed = present / rows
    if observed >= expected - 1e-12:  # the baseline's own data must pass despite float noise
        return []
    return [
        violation(
            context.name,
            "completeness_check",
            f"Data completeness requirement is not met. Expected completeness: "
            f"{_pct(expected)}%. Observed: Only {_pct(observed)}% of data is complete "
            f"({rows - present} of {rows} values missing).",
        )
    ]


def value_checks(context: CheckContext) -> list[Violation]:
    """Domain and non-negative constraints, run through their pandera checks.

    Calling each check on the column yields its failure cases as a Series indexed by row;
    ``DataFrameSchema.validate(lazy=True)`` builds the same cases as a frame, row by row,
    which takes seconds when a million values fail.
    """
    column = context.column
    found = []
    for check in feature_checks(context.feature):
        domain = check.title == CATEGORICAL_VALUES_CHECK
        values = column.text if domain else column.numbers
        failures = check(values).failure_cases  # None when every value passes
        if failures is None or failures.empty:
            continue
        checked = int(column.present.sum() if domain else column.is_number.sum())
        describe = _domain_violation if domain else _non_negative_violation
        found.extend(describe(context, failures, checked))
    return found


def _domain_violation(context: CheckContext, failures: pd.Series, checked: int) -> list[Violation]:
    ratio = 1 - len(failures) / checked
    threshold = float(context.config["domain_content_threshold"])
    if ratio >= threshold:
        return []
    description = (
        f"Data domain requirement is not met. Expected match: {_pct(threshold)}%. Observed: "
        f"Only {_pct(ratio)}% of data is within the baseline domain. {len(failures)} value(s) "
        f"are outside it, e.g. {_examples(failures)}."
    )
    return [violation(context.name, CATEGORICAL_VALUES_CHECK, description)]


def _non_negative_violation(
    context: CheckContext, failures: pd.Series, checked: int
) -> list[Violation]:
    description = (
        f"Data value requirement is not met. Expected: non-negative values. Observed: "
        f"{len(failures)} negative value(s) ({_pct(len(failures) / checked)}% of data), "
        f"e.g. {_examples(failures)}."
    )
    return [violation(context.name, NON_NEGATIVE_CHECK, description)]


FEATURE_CHECKS: tuple[FeatureCheck, ...] = (data_type_check, completeness_check, value_checks)


_COLUMN_MESSAGES = {
    "missing_column_check": "There are missing columns in current dataset: '{}' is in the "
    "baseline but not in the data.",
    "extra_column_check": "There are extra columns in current dataset: '{}' is not in the "
    "baseline.",
}


def _column_set_violations(
    frame: pd.DataFrame, constraints: Mapping[str, Any], optional_columns: Sequence[str]
) -> list[Violation]:
    expected = [f["name"] for f in constraints["features"]]
    skipped = set(ignored_columns(constraints))
    current = [str(c) for c in frame.columns if str(c) not in skipped]
    counts = (
        f"Number of columns in current dataset: {len(current)}, "
        f"Number of columns in baseline constraints: {len(expected)}."
    )
    found = [("missing_column_check", n) for n in expected if n not in current]
    found = [(check, n) for check, n in found if n not in optional_columns]
    found += [("extra_column_check", c) for c in current if c not in expected]
    return [
        violation(name, check, f"{_COLUMN_MESSAGES[check].format(name)} {counts}")
        for check, name in found
    ]


def _pct(ratio: float) -> str:
    """A share as a percentage with up to 4 decimals; never shows 100.0 for a shortfall."""
    value = round(ratio * 100, 4)
    return repr(99.9999 if value == 100.0 and ratio < 1 else value)


def _examples(offenders: pd.Series) -> str:
    """The first few distinct offending values with their 1-based data row."""
    first = offenders[~offenders.duplicated()].head(EXAMPLES)
    pairs = zip(first.index, first.tolist(), strict=True)
    return ", ".join(f"{value!r} (row {int(row) + 1})" for row, value in pairs)
