"""Constraints in SageMaker Model Monitor's ``constraints.json`` shape: suggest, check, load.

Besides Model Monitor's keys, a constraints file may hold ``"driftloop": {"ignored_columns":
[...]}``: columns (the spec's id columns) that :func:`~driftloop.validation.verify.verify` neither
checks nor reports as extra. Model Monitor lets custom containers extend the format this way.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from driftloop.data.spec import TabularSpec
from driftloop.errors import DataError
from driftloop.validation._files import read_json

# Model Monitor's defaults, as its baselining job writes them.
DEFAULT_MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 1.0,
    "domain_content_threshold": 1.0,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}
# A String feature gets a domain when it has at most this many distinct values (Deequ's
# low-cardinality threshold for histograms, which its categorical-range rule relies on).
MAX_DOMAIN_SIZE = 120
INFERRED_TYPES = frozenset({"Integral", "Fractional", "String", "Unknown"})


def suggest_constraints(statistics: Mapping[str, Any], spec: TabularSpec) -> dict[str, Any]:
    """Constraints a dataset with these ``statistics`` satisfies (``constraints.json``).

    Completeness is the observed share of present values; numeric features are non-negative
    when their minimum is; String features with 1 to ``MAX_DOMAIN_SIZE`` distinct values get
    their observed domain.
    """
    item_count = int(statistics["dataset"]["item_count"])
    return {
        "version": 0.0,
        "features": [_suggest_feature(f, item_count) for f in statistics["features"]],
        "monitoring_config": copy.deepcopy(DEFAULT_MONITORING_CONFIG),
        "driftloop": {"ignored_columns": [c.name for c in spec.columns if c.role == "id"]},
    }


def _suggest_feature(feature: Mapping[str, Any], item_count: int) -> dict[str, Any]:
    stats = feature.get("numerical_statistics") or feature["string_statistics"]
    num_present = int(stats["common"]["num_present"])
    suggested: dict[str, Any] = {
        "name": feature["name"],
        "inferred_type": feature["inferred_type"],
        "completeness": suggested_completeness(num_present, item_count),
    }
    if "numerical_statistics" in feature:
        suggested["num_constraints"] = {"is_non_negative": bool(stats["min"] >= 0)}
    elif 0 < stats["distinct_count"] <= MAX_DOMAIN_SIZE:  # an all-blank column gets none
        buckets = stats["distribution"]["categorical"]["buckets"]
        suggested["string_constraints"] = {"domains": sorted(b["value"] for b in buckets)}
    return suggested


def suggested_completeness(present: int, count: int) -> float:
    """1.0 for a complete column, else Deequ's RetainCompletenessRule: the lower end of the
    95% Wald interval of the observed completeness, rounded down to two decimals. (The observed
    value itself would flag every later window that is missing a value or two more by chance.)
    """
    if count == 0 or present >= count:
        return 1.0
    observed = present / count
    bound = observed - 1.96 * math.sqrt(observed * (1 - observed) / count)
    return max(math.floor(bound * 100) / 100, 0.0)


def monitoring_config(
    constraints: Mapping[str, Any], feature: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The file's ``monitoring_config`` over the defaults, then the feature's overrides."""
    config = {**DEFAULT_MONITORING_CONFIG, **constraints.get("monitoring_config", {})}
    if feature is not None:
        config.update(feature.get("monitoringConfigOverrides", {}))
    return config


def ignored_columns(constraints: Mapping[str, Any]) -> list[str]:
    """Columns verification skips (the baseline's id columns)."""
    return list(constraints.get("driftloop", {}).get("ignored_columns", []))


def load_constraints(path: Path) -> dict[str, Any]:
    """Read a ``constraints.json``; errors name the file (missing, not JSON, wrong shape)."""
    return check_constraints(read_json(Path(path), "constraints"), source=str(path))


def check_constraints(raw: Any, *, source: str = "constraints") -> dict[str, Any]:
    """Return ``raw`` if it has the constraints shape, else raise :class:`DataError`."""
    problem = _shape_problem(raw)
    if problem:
        raise DataError(
            f"{source}: not a constraints file ({problem})",
            details={"file": source, "problem": problem},
        )
    assert isinstance(raw, dict)  # _shape_problem names any other top level
    return raw


def _shape_problem(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return "the top level is not a JSON object"
    features = raw.get("features")
    if not isinstance(features, list):
        return "'features' is missing or not a list"
    for index, feature in enumerate(features):
        problem = _feature_problem(feature)
        if problem:
            return f"features[{index}] {problem}"
    names = [f["name"] for f in features]
    if len(set(names)) != len(names):
        return "a feature name appears twice"
    for key in ("monitoring_config", "driftloop"):
        if not isinstance(raw.get(key, {}), dict):
            return f"'{key}' is not an object"
    if not _is_list_of_str(raw.get("driftloop", {}).get("ignored_columns", [])):
        return "'driftloop.ignored_columns' is not a list of names"
    return None


def _feature_problem(feature: Any) -> str | None:
    if not isinstance(feature, dict):
        return "is not an object"
    if not isinstance(feature.get("name"), str) or not feature["name"]:
        return "has no 'name'"
    if feature.get("inferred_type") not in INFERRED_TYPES:
        allowed = ", ".join(sorted(INFERRED_TYPES))
        return f"has inferred_type {feature.get('inferred_type')!r}, not one of {allowed}"
    completeness = feature.get("completeness", 1.0)
    if isinstance(completeness, bool) or not isinstance(completeness, int | float):
        return "has a 'completeness' that is not a number"
    for key in ("num_constraints", "string_constraints", "monitoringConfigOverrides"):
        if not isinstance(feature.get(key, {}), dict):
            return f"has a '{key}' that is not an object"
    if not isinstance(feature.get("num_constraints", {}).get("is_non_negative", False), bool):
        return "has an 'is_non_negative' that is not true/false"
    if not _is_list_of_str(feature.get("string_constraints", {}).get("domains", [])):
        return "has 'domains' that are not a list of strings"
    return None


def _is_list_of_str(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
