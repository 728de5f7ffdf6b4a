"""Model Monitor's ``baseline_drift_check``: distribution distance from the baseline statistics.

Numeric features: the L-infinity distance between the cumulative distributions of the baseline
and current sketches (the Kolmogorov-Smirnov statistic). Categorical features: the L-infinity
distance between value frequencies (``categorical_drift_method: LInfinity``). A distance above
``comparison_threshold`` is a violation; every distance is also emitted as the metric
``feature_baseline_drift_<feature>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from driftloop.validation import monitoring_config, violation


def _sketch(feature: Mapping[str, Any]) -> np.ndarray | None:
    stats = feature.get("numerical_statistics")
    if not stats:
        return None
    data = stats.get("distribution", {}).get("kll", {}).get("sketch", {}).get("data", [])
    values = np.sort(np.asarray([v for level in data for v in level], dtype=np.float64))
    return values if len(values) else None


def _frequencies(feature: Mapping[str, Any]) -> dict[str, float] | None:
    stats = feature.get("string_statistics")
    if not stats:
        return None
    buckets = stats.get("distribution", {}).get("categorical", {}).get("buckets", [])
    total = float(sum(b["count"] for b in buckets))
    return {str(b["value"]): b["count"] / total for b in buckets} if total else None


def _cdf_distance(baseline: np.ndarray, current: np.ndarray) -> float:
    points = np.union1d(baseline, current)
    left = np.searchsorted(baseline, points, side="right") / len(baseline)
    right = np.searchsorted(current, points, side="right") / len(current)
    return float(np.max(np.abs(left - right)))


def _linf(baseline: dict[str, float], current: dict[str, float]) -> float:
    keys = baseline.keys() | current.keys()
    return max(abs(baseline.get(k, 0.0) - current.get(k, 0.0)) for k in keys)


def distances(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, float]:
    """Per feature present in both statistics files, the baseline drift distance."""
    found = {f["name"]: f for f in current.get("features", [])}
    result = {}
    for feature in baseline.get("features", []):
        other = found.get(feature["name"])
        if other is None:
            continue
        left, right = _sketch(feature), _sketch(other)
        if left is not None and right is not None:
            result[feature["name"]] = _cdf_distance(left, right)
            continue
        freq_left, freq_right = _frequencies(feature), _frequencies(other)
        if freq_left is not None and freq_right is not None:
            result[feature["name"]] = _linf(freq_left, freq_right)
    return result


def drift_violations(
    found: Mapping[str, float], constraints: Mapping[str, Any]
) -> list[dict[str, str]]:
    """``baseline_drift_check`` violations for distances over the feature's threshold."""
    by_name = {f["name"]: f for f in constraints.get("features", [])}
    out = []
    for name, distance in found.items():
        config = monitoring_config(constraints, by_name.get(name))
        rules = config.get("distribution_constraints", {})
        if rules.get("perform_comparison", "Enabled") != "Enabled":
            continue
        key = "comparison_threshold"
        if "string_statistics" in by_name.get(name, {}) or "string_constraints" in by_name.get(
            name, {}
        ):
            key = "categorical_comparison_threshold"
        threshold = float(rules.get(key, 0.1))
        if distance > threshold:
            description = (
                f"Baseline drift distance: {distance:.4f} exceeds threshold: {threshold:g}"
            )
            out.append(violation(name, "baseline_drift_check", description))
    return out
