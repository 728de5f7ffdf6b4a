"""Model quality: captured predictions merged with ground truth, and estimated without it.

:func:`merge_labels` pairs captured rows with labels the way Model Monitor's ground-truth merge
does; :func:`model_quality` scores them; :func:`estimate_quality` estimates the same metrics from
the predicted probabilities alone (confidence-based performance estimation, NannyML's CBPE),
which is what a model can be judged on while labels are still on their way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from driftloop.capture.reader import Window, row_keys, utc, whole_second
from driftloop.errors import ConfigError


def eligible_range(
    run_time: datetime,
    period: timedelta,
    *,
    offset_start: timedelta | None = None,
    offset_end: timedelta | None = None,
) -> tuple[datetime, datetime]:
    """The capture times a model-quality run at ``run_time`` judges, as Model Monitor does.

    Model Monitor's ``StartTimeOffset``/``EndTimeOffset`` are negative durations (``-P8D``,
    ``-PT1H``) added to the run's scheduled time: with ``-P8D`` and ``-P1D``, a run at
    2020-01-09T13:00 judges data captured from 2020-01-01T13:00 up to 2020-01-08T13:00, so labels
    that arrive a day or more late are in. Without offsets it is the last ``period`` before the
    run. Read the capture window over this range.
    """
    run_time = utc(run_time)
    start = _shifted(run_time, offset_start, "offset_start") or run_time - period
    end = _shifted(run_time, offset_end, "offset_end") or run_time
    if end <= start:
        raise ConfigError(f"offset_end ({offset_end}) must come after offset_start")
    return start, end


def _shifted(run_time: datetime, offset: timedelta | None, name: str) -> datetime | None:
    if offset is None:
        return None
    if offset > timedelta(0):
        raise ConfigError(f"{name} must be zero or negative (like -P1D), got {offset}")
    return run_time + offset


def merge_labels(
    window: Window,
    labels: dict[str, int],
    *,
    offset_start: timedelta | None = None,
    offset_end: timedelta | None = None,
    run_time: datetime | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(y_true, proba)`` of the window's rows that have a label and a captured probability.

    A row's key is its record's ``inferenceId``, else its ``eventId`` (Model Monitor's rule);
    row ``n`` of a many-row record is ``<id>#<n>`` (:func:`row_keys`). With offsets, only rows
    captured from ``run_time + offset_start`` up to ``run_time + offset_end`` count (see
    :func:`eligible_range`; ``run_time`` defaults to the window's end, a missing offset leaves
    that side at the window's bound), and the window must cover that range. Rows without a
    probability (``Input``-only capture) cannot be scored and are left out.
    """
    if offset_start is not None or offset_end is not None:
        run_time = utc(run_time or window.until)
        start = _shifted(run_time, offset_start, "offset_start") or window.since
        end = _shifted(run_time, offset_end, "offset_end") or window.until
        if start < window.since or end > window.until:
            raise ConfigError(
                f"the window {window.since:%Y-%m-%dT%H:%M:%S} to {window.until:%Y-%m-%dT%H:%M:%S}"
                f" does not cover the eligible range {start:%Y-%m-%dT%H:%M:%S} to "
                f"{end:%Y-%m-%dT%H:%M:%S}; read the window over eligible_range(...)"
            )
        eligible = (window.times >= whole_second(start)) & (window.times < whole_second(end))
    else:
        eligible = np.ones(window.rows, dtype=bool)
    truth = row_labels(window, labels)
    chosen = eligible & (truth >= 0) & np.isfinite(window.probabilities)
    return truth[chosen], window.probabilities[chosen]


def row_labels(window: Window, labels: dict[str, int]) -> np.ndarray:
    """Each row's label (0/1), -1 where none was given, matched by :func:`row_keys`."""
    keys = row_keys(window)
    return np.fromiter((labels.get(k, -1) for k in keys), dtype=np.int64, count=window.rows)


def quality_violations(
    measured: dict[str, Any], expected: dict[str, float], tolerance: float
) -> list[dict[str, str]]:
    """Model Monitor's model-quality violation when the measured ROC AUC is more than
    ``tolerance`` below the one the version reached on its validation data."""
    auc, reference = measured.get("roc_auc"), expected.get("roc_auc")
    if auc is None or reference is None or auc >= reference - tolerance:
        return []
    floor = reference - tolerance
    return [
        {
            "metric_name": "roc_auc",
            "constraint_check_type": "LessThanThreshold",
            "description": (
                f"Metric roc_auc with {auc:.4f} was LessThanThreshold '{floor:.4f}' (validation "
                f"{reference:.4f} minus the tolerance {tolerance:g})"
            ),
        }
    ]


def model_quality(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, Any]:
    """Realised metrics at ``threshold``; a metric whose denominator is zero is None."""
    truth = np.asarray(y_true, dtype=bool)
    predicted = np.asarray(proba, dtype=np.float64) >= threshold
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    fn = int(np.sum(~predicted & truth))
    tn = int(truth.size - tp - fp - fn)
    both = 0 < int(truth.sum()) < truth.size
    auc = float(roc_auc_score(truth, proba)) if both else None
    return _metrics(tn, fp, fn, tp, threshold) | {"roc_auc": auc}


def estimate_quality(proba: np.ndarray, threshold: float) -> dict[str, Any]:
    """Expected metrics if ``proba`` is calibrated (CBPE): no labels needed.

    A row predicted positive is a true positive with probability ``p`` and a false positive with
    ``1 - p`` (negatives likewise), so the expected confusion matrix is a sum of probabilities;
    precision, recall, F1 and accuracy follow from it. The expected ROC curve weighs each row as
    a positive by ``p`` and as a negative by ``1 - p``. NaN probabilities are left out. Only as
    good as the calibration: a model that drifted out of calibration misleads it.
    """
    p = np.asarray(proba, dtype=np.float64)
    p = p[np.isfinite(p)]
    predicted = p >= threshold
    tp, fp = float(p[predicted].sum()), float((1 - p[predicted]).sum())
    fn, tn = float(p[~predicted].sum()), float((1 - p[~predicted]).sum())
    auc = None
    if p.sum() > 0 and (1 - p).sum() > 0:
        doubled, weights = np.concatenate([p, p]), np.concatenate([p, 1 - p])
        truth = np.concatenate([np.ones(p.size), np.zeros(p.size)])
        auc = float(roc_auc_score(truth, doubled, sample_weight=weights))
    return _metrics(tn, fp, fn, tp, threshold) | {"roc_auc": auc, "estimated": True}


def _metrics(tn: float, fp: float, fn: float, tp: float, threshold: float) -> dict[str, Any]:
    rows = tn + fp + fn + tp
    return {
        "rows": round(rows),
        "threshold": threshold,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": _ratio(tp + tn, rows),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator > 0 else None


class QualityTally:
    """Model quality of a window read chunk by chunk.

    Labelled rows keep their label and probability (as many as labels arrived, never the
    window); the estimate keeps exact sums of the expected confusion matrix and, for its ROC
    AUC, each row's probability binned to ``2**-BINS_LOG2`` (rows in one bin count as ties,
    which moves the estimated AUC by at most the weight those ties carry).
    """

    BINS_LOG2 = 20

    def __init__(
        self,
        labels: dict[str, int],
        threshold: float,
        *,
        offset_start: timedelta | None = None,
        offset_end: timedelta | None = None,
        run_time: datetime | None = None,
        estimate: bool = True,
    ) -> None:
        self.labels, self.threshold, self.estimate = labels, threshold, estimate
        self.offsets = {"offset_start": offset_start, "offset_end": offset_end}
        self.run_time = run_time
        self.truth: list[np.ndarray] = []
        self.proba: list[np.ndarray] = []
        self.sums = np.zeros(4)  # tp, fp, fn, tn (expected)
        self.positive = np.zeros(0)
        self.negative = np.zeros(0)

    def add(self, window: Window) -> None:
        if self.labels:
            y, p = merge_labels(window, self.labels, **self.offsets, run_time=self.run_time)
            if len(y):
                self.truth.append(y)
                self.proba.append(p)
        if not self.estimate:
            return
        p = window.probabilities[np.isfinite(window.probabilities)]
        if not p.size:
            return
        predicted = p >= self.threshold
        self.sums += [
            p[predicted].sum(),
            (1 - p[predicted]).sum(),
            p[~predicted].sum(),
            (1 - p[~predicted]).sum(),
        ]
        bins = 1 << self.BINS_LOG2
        index = np.minimum((p * bins).astype(np.int64), bins - 1)
        self._bins(
            np.bincount(index, weights=p, minlength=bins),
            np.bincount(index, weights=1 - p, minlength=bins),
        )

    def _bins(self, positive: np.ndarray, negative: np.ndarray) -> None:
        if self.positive.size == 0:
            self.positive, self.negative = positive, negative
        else:
            self.positive += positive
            self.negative += negative

    def merge(self, other: QualityTally) -> None:
        self.truth += other.truth
        self.proba += other.proba
        self.sums += other.sums
        if other.positive.size:
            self._bins(other.positive, other.negative)

    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.truth:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        return np.concatenate(self.truth), np.concatenate(self.proba)

    def estimated(self) -> dict[str, Any] | None:
        """What :func:`estimate_quality` gives on the window's probabilities (AUC binned)."""
        if self.positive.size == 0:
            return None
        tp, fp, fn, tn = (float(v) for v in self.sums)
        positive, negative = self.positive, self.negative
        total_positive, total_negative = float(positive.sum()), float(negative.sum())
        auc = None
        if total_positive > 0 and total_negative > 0:
            below = np.cumsum(negative) - negative
            auc = float(
                np.dot(positive, below + 0.5 * negative) / (total_positive * total_negative)
            )
        return _metrics(tn, fp, fn, tp, self.threshold) | {"roc_auc": auc, "estimated": True}
