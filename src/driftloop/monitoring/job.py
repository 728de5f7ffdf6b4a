"""One monitoring run over a window of captured traffic.

Writes, under ``<workspace>/monitoring/<endpoint>/<run id>/`` (and, on aws, the same files under
``s3://<bucket>/<prefix>/monitoring/<endpoint>/<run id>/``): ``statistics.json`` of the window,
``constraint_violations.json`` against the model version's baseline (``baseline_drift_check``
included), ``drift.json``, ``quality.json`` (measured with late labels, or estimated), the
Evidently ``report.html`` and ``run.json`` (summary and every input problem with file and line).
Datapoints go to the metric store and a "Monitoring Run Completed" event to the event log.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from driftloop.backends.catalog import Backends
from driftloop.capture.reader import Window
from driftloop.config import Settings
from driftloop.data.spec import TabularSpec
from driftloop.metrics.base import RESOLUTION_S, Datapoint
from driftloop.monitoring import baseline_drift
from driftloop.monitoring.drift import DriftResult, detect_drift
from driftloop.monitoring.quality import (
    eligible_range,
    estimate_quality,
    merge_labels,
    model_quality,
    quality_violations,
)
from driftloop.monitoring.report import write_report
from driftloop.monitoring.target import MonitorTarget, resolve_target
from driftloop.validation import compute_statistics, verify
from driftloop.workspace import atomic_write_text

DATA_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
MODEL_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
Progress = Callable[[str], None]
PROBLEMS_LISTED = 200  # run.json lists this many problems in full, and counts all by kind


@dataclass
class MonitoringRun:
    """What one run found; ``folder`` holds its files."""

    endpoint: str
    variant: str
    version: int
    folder: Path
    since: datetime
    until: datetime
    rows: int = 0
    records: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, str]] = field(default_factory=list)
    drift: DriftResult | None = None
    quality: dict[str, Any] | None = None
    seconds: float = 0.0
    results: str | None = None
    """Where the backend keeps the run's files (``folder`` locally, S3 on aws)."""

    @property
    def status(self) -> str:
        return run_status(self.rows, self.violations)

    def summary(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "variant": self.variant,
            "model_version": self.version,
            "status": self.status,
            "window": {"since": _iso(self.since), "until": _iso(self.until)},
            "records": self.records,
            "rows": self.rows,
            "problems": len(self.problems),
            "violations": len(self.violations),
            "dataset_drift": self.drift.dataset_drift if self.drift else None,
            "drift_share": self.drift.share if self.drift else None,
            "drifted_columns": [c.column for c in self.drift.columns if c.drifted]
            if self.drift
            else [],
            "quality": self.quality,
            "seconds": round(self.seconds, 3),
            "folder": str(self.folder),
            "results": self.results,
        }


def run_status(rows: int, violations: list[dict[str, str]]) -> str:
    """Model Monitor's execution status of a run over ``rows`` rows."""
    if rows == 0:
        return "EmptyWindow"
    return "CompletedWithViolations" if violations else "Completed"


def run_monitoring(
    settings: Settings,
    endpoint: str,
    since: datetime,
    until: datetime,
    *,
    variant: str | None = None,
    schedule: str | None = None,
    report: bool = True,
    progress: Progress | None = None,
) -> MonitoringRun:
    """Run every check on the captured window ``[since, until)`` of ``endpoint``.

    Datapoints carry the dimensions ``Endpoint`` and ``MonitoringSchedule`` (``schedule``,
    by default :func:`schedule_name`), whoever runs the job, and are stamped with the time the
    run completes, so an alarm on them sees every run however long it took.
    """
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    target = resolve_target(settings, endpoint, variant)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = settings.workspace.monitoring / endpoint / stamp
    run = MonitoringRun(endpoint, target.variant, target.version, folder, since, until)
    say(f"reading captured traffic of {endpoint}/{target.variant}")
    stores = Backends.from_settings(settings)
    window = stores.capture.read_window(
        endpoint,
        target.spec,
        since=since,
        until=until,
        variants=[target.variant],
    )
    run.rows, run.records = len(window.frame), window.records
    run.problems = [asdict(problem) for problem in window.problems]
    if run.rows:
        _checks(settings, target, window, run, report, say)
    run.seconds = time.perf_counter() - started
    _write(run)
    run.results = stores.artifacts.put_folder(f"monitoring/{endpoint}/{stamp}", folder)
    _emit_metrics(settings, run, schedule or schedule_name(endpoint))
    stores.events.emit("driftloop.monitoring", "Monitoring Run Completed", run.summary())
    return run


def _checks(
    settings: Settings,
    target: MonitorTarget,
    window: Window,
    run: MonitoringRun,
    report: bool,
    say: Progress,
) -> None:
    cfg = settings.monitoring
    features = _features_only(target.spec)
    say(f"checking {run.rows} rows against v{target.version}'s baseline")
    statistics = compute_statistics(window.frame, features)
    _write_json(run.folder / "statistics.json", statistics)
    found = verify(window.frame, target.baseline.constraints, optional_columns=[target.spec.target])
    distances = baseline_drift.distances(target.baseline.statistics, statistics)
    run.violations = found["violations"] + baseline_drift.drift_violations(
        distances, target.baseline.constraints
    )
    run.quality = {"baseline_drift": distances}
    say("testing drift")
    run.drift = detect_drift(target.profile(cfg.drift), window.frame, cfg.drift)
    run.quality = {**run.quality, **_quality(settings, target, window, run)}
    measured = run.quality.get("model_quality")
    if measured is not None and cfg.quality_tolerance is not None:
        run.violations += quality_violations(measured, target.expected, cfg.quality_tolerance)
    if report:
        say("writing the Evidently report")
        rows = write_report(
            target.reference(),
            window.frame,
            target.spec,
            run.folder / "report.html",
            max_rows=cfg.report_max_rows,
        )
        run.quality["report_rows"] = rows


def _quality(
    settings: Settings, target: MonitorTarget, window: Window, run: MonitoringRun
) -> dict[str, Any]:
    cfg = settings.monitoring
    stores = Backends.from_settings(settings)
    labels = stores.labels.read(target.endpoint)
    judged = window
    offsets = {"offset_start": cfg.label_start_offset, "offset_end": cfg.label_end_offset}
    if cfg.label_start_offset is not None or cfg.label_end_offset is not None:
        start, end = eligible_range(run.until, run.until - run.since, **offsets)
        judged = stores.capture.read_window(
            target.endpoint,
            target.spec,
            since=start,
            until=end,
            variants=[target.variant],
        )
    y_true, proba = merge_labels(judged, labels, **offsets, run_time=run.until)
    result: dict[str, Any] = {"labelled_rows": len(y_true)}
    if judged is not window:
        result["labelled_window"] = {"since": _iso(judged.since), "until": _iso(judged.until)}
    if len(y_true) >= cfg.min_labels:
        result["model_quality"] = model_quality(y_true, proba, target.threshold)
    usable = window.probabilities[~np.isnan(window.probabilities)]
    if len(usable):
        result["estimated_quality"] = estimate_quality(usable, target.threshold)
    return result


def _features_only(spec: TabularSpec) -> TabularSpec:
    columns = tuple(c for c in spec.columns if c.role == "feature")
    return TabularSpec(columns, spec.target, spec.positive_label, spec.negative_label)


def _write(run: MonitoringRun) -> None:
    _write_json(run.folder / "constraint_violations.json", {"violations": run.violations})
    if run.drift is not None:
        _write_json(run.folder / "drift.json", run.drift.to_dict())
    if run.quality is not None:
        _write_json(run.folder / "quality.json", run.quality)
    listed = run.problems[:PROBLEMS_LISTED]
    reasons = Counter(_reason_kind(p["reason"]) for p in run.problems)
    detail = {"problem_list": listed, "problem_kinds": dict(reasons.most_common())}
    _write_json(run.folder / "run.json", {**run.summary(), **detail})


def _reason_kind(reason: str) -> str:
    """A problem's reason without its specifics (row numbers, values), for counting kinds."""
    return reason.split(":")[0]


def _write_json(path: Path, payload: Any) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, default=str))


def schedule_name(endpoint: str) -> str:
    """The ``MonitoringSchedule`` dimension of an endpoint's monitoring datapoints."""
    return f"{endpoint}-monitoring"


def _emit_metrics(settings: Settings, run: MonitoringRun, schedule: str) -> None:
    bucket = int(time.time()) // RESOLUTION_S * RESOLUTION_S
    dims = {"Endpoint": run.endpoint, "MonitoringSchedule": schedule}

    def point(namespace: str, metric: str, value: float) -> Datapoint:
        return Datapoint(namespace, metric, dims, bucket, "None", value, 1, value, value)

    points = [point(DATA_NAMESPACE, "violations", float(len(run.violations)))]
    points.append(point(DATA_NAMESPACE, "input_problems", float(len(run.problems))))
    points.append(point(DATA_NAMESPACE, "captured_rows", float(run.rows)))
    for name, distance in (run.quality or {}).get("baseline_drift", {}).items():
        points.append(point(DATA_NAMESPACE, f"feature_baseline_drift_{name}", distance))
    if run.drift is not None:
        points.append(point(DATA_NAMESPACE, "dataset_drift_share", run.drift.share))
        points.append(point(DATA_NAMESPACE, "dataset_drift", float(run.drift.dataset_drift)))
    measured = (run.quality or {}).get("model_quality") or {}
    for metric in ("roc_auc", "precision", "recall", "f1", "accuracy"):
        if measured.get(metric) is not None:
            points.append(point(MODEL_NAMESPACE, metric, float(measured[metric])))
    Backends.from_settings(settings).metrics.put_metric_data(points)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
