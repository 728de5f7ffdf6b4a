"""One monitoring run over a window of captured traffic.

Writes, under ``<workspace>/monitoring/<endpoint>/<run id>/`` (and, on aws, the same files under
``s3://<bucket>/<prefix>/monitoring/<endpoint>/<run id>/``): ``statistics.json`` of the window,
``constraint_violations.json`` against the model version's baseline (``baseline_drift_check``
included), ``drift.json``, ``quality.json`` (measured with late labels, or estimated), the
Evidently ``report.html`` and ``run.json`` (summary; every input problem of the capture and of
the stored labels counted by kind and file, the first ones of each file with their line).
Datapoints go to the metric store and a "Monitoring Run Completed" event to the event log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftloop.backends.catalog import Backends
from driftloop.capture.parallel import workers_for
from driftloop.capture.reader import Window, utc
from driftloop.config import Settings
from driftloop.data.spec import TabularSpec
from driftloop.metrics.base import RESOLUTION_S, Datapoint
from driftloop.monitoring import baseline_drift
from driftloop.monitoring.drift import DriftResult
from driftloop.monitoring.problems import ProblemLog
from driftloop.monitoring.quality import (
    QualityTally,
    eligible_range,
    model_quality,
    quality_violations,
)
from driftloop.monitoring.report import load_evidently, write_report
from driftloop.monitoring.target import MonitorTarget, resolve_target
from driftloop.monitoring.window_summary import WindowSummary
from driftloop.names import safe_name
from driftloop.workspace import atomic_write_text

DATA_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
MODEL_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
Progress = Callable[[str], None]


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
    """The first input problems of each capture file (file, line, reason); see ``problem_log``."""
    problem_log: ProblemLog = field(default_factory=ProblemLog)
    """Every input problem counted by kind and file."""
    violations: list[dict[str, str]] = field(default_factory=list)
    drift: DriftResult | None = None
    quality: dict[str, Any] | None = None
    seconds: float = 0.0
    results: str | None = None
    """Where the backend keeps the run's files (``folder`` locally, S3 on aws)."""
    steps: dict[str, float] = field(default_factory=dict)
    """Seconds per step (reading and parsing summed over the parts), and the parts read."""

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
            "problems": self.problem_log.total,
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
    workers: int | None = None,
) -> MonitoringRun:
    """Run every check on the captured window ``[since, until)`` of ``endpoint``.

    The window is read as a stream of chunks (by ``workers`` processes, one per core when None)
    and every check accumulates per chunk, so memory does not grow with the window. Datapoints
    carry the dimensions ``Endpoint`` and ``MonitoringSchedule`` (``schedule``, by default
    :func:`schedule_name`), whoever runs the job, and are stamped with the time the run
    completes, so an alarm on them sees every run however long it took.
    """
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    workers = workers_for(workers)
    stores = Backends.from_settings(settings)
    # the reading processes' imports overlap resolving the target
    stores.capture.prepare_fold(endpoint, since=since, until=until, workers=workers)
    target = resolve_target(settings, endpoint, variant)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = settings.workspace.monitoring / safe_name(endpoint, "endpoint") / stamp
    run = MonitoringRun(endpoint, target.variant, target.version, folder, since, until)
    say(f"reading captured traffic of {endpoint}/{target.variant}")
    cfg = settings.monitoring
    labels = stores.labels.read(target.endpoint)
    offsets = cfg.label_start_offset is not None or cfg.label_end_offset is not None
    fold = SummaryFold(
        spec=_features_only(target.spec),
        constraints=dict(target.baseline.constraints),
        optional_columns=[target.spec.target],
        labels={} if offsets else labels,
        threshold=target.threshold,
        sample_rows=cfg.report_max_rows,
    )
    parts = stores.capture.fold_window(
        endpoint,
        target.spec,
        fold,
        since=since,
        until=until,
        variants=[target.variant],
        workers=workers,
        meanwhile=load_evidently if report else None,
    )
    summary = parts[0]
    for part in parts[1:]:
        summary.merge(part)
    summary.problems.add(labels.skipped)  # unreadable label lines: reported, never lost
    run.rows, run.records = summary.rows, summary.records
    run.problem_log = summary.problems
    run.problems = [asdict(p) for p in summary.problems.examples()]
    run.steps = {"read and parse": summary.seconds.pop("read and parse", 0.0), **summary.seconds}
    run.steps["parts"] = float(len(parts))
    if run.rows:
        _checks(settings, target, summary, labels, run, report, say)
    run.seconds = time.perf_counter() - started
    _write(run)
    run.results = stores.artifacts.put_folder(f"monitoring/{endpoint}/{stamp}", folder)
    _emit_metrics(settings, run, schedule or schedule_name(endpoint))
    stores.events.emit("driftloop.monitoring", "Monitoring Run Completed", run.summary())
    return run


@dataclass(frozen=True)
class SummaryFold:
    """Reads one part of a window into a :class:`WindowSummary` (picklable, for workers)."""

    spec: TabularSpec
    constraints: dict[str, Any]
    optional_columns: list[str]
    labels: dict[str, int]
    threshold: float
    sample_rows: int
    seed: int = 0

    def __call__(self, part: int, chunks: Iterator[Window]) -> WindowSummary:
        summary = WindowSummary(
            self.spec,
            self.constraints,
            optional_columns=self.optional_columns,
            quality=QualityTally(self.labels, self.threshold),
            sample_rows=self.sample_rows,
            seed=self.seed,
            part=part,
        )
        started = time.perf_counter()
        for chunk in chunks:
            summary.add(chunk)
        spent = sum(summary.seconds.values())
        summary.seconds["read and parse"] = time.perf_counter() - started - spent
        return summary


def _timed(run: MonitoringRun, step: str, started: float) -> None:
    run.steps[step] = run.steps.get(step, 0.0) + time.perf_counter() - started


def _checks(
    settings: Settings,
    target: MonitorTarget,
    summary: WindowSummary,
    labels: dict[str, int],
    run: MonitoringRun,
    report: bool,
    say: Progress,
) -> None:
    cfg = settings.monitoring
    say(f"checking {run.rows} rows against v{target.version}'s baseline")
    started = time.perf_counter()
    statistics = summary.statistics.result()
    _write_json(run.folder / "statistics.json", statistics)
    distances = baseline_drift.distances(target.baseline.statistics, statistics)
    run.violations = summary.tally.violations() + baseline_drift.drift_violations(
        distances, target.baseline.constraints
    )
    run.quality = {"baseline_drift": distances}
    _timed(run, "statistics + violations", started)
    say("testing drift")
    started = time.perf_counter()
    run.drift = summary.drift(target.profile(cfg.drift), cfg.drift)
    _timed(run, "drift", started)
    started = time.perf_counter()
    run.quality = {**run.quality, **_quality(settings, target, summary, labels, run)}
    measured = run.quality.get("model_quality")
    if measured is not None and cfg.quality_tolerance is not None:
        run.violations += quality_violations(measured, target.expected, cfg.quality_tolerance)
    _timed(run, "quality", started)
    if report:
        say("writing the Evidently report")
        started = time.perf_counter()
        sample = summary.sample
        assert sample.frame is not None
        rows = write_report(
            target.reference(),
            sample.frame,
            target.spec,
            run.folder / "report.html",
            max_rows=cfg.report_max_rows,
            current_total=sample.seen,
        )
        run.quality["report_rows"] = rows
        _timed(run, "report (Evidently)", started)


def _quality(
    settings: Settings,
    target: MonitorTarget,
    summary: WindowSummary,
    labels: dict[str, int],
    run: MonitoringRun,
) -> dict[str, Any]:
    cfg = settings.monitoring
    stores = Backends.from_settings(settings)
    tally = summary.quality
    assert tally is not None
    offsets = {"offset_start": cfg.label_start_offset, "offset_end": cfg.label_end_offset}
    result: dict[str, Any] = {}
    if cfg.label_start_offset is not None or cfg.label_end_offset is not None:
        start, end = eligible_range(run.until, run.until - run.since, **offsets)
        judged = QualityTally(
            labels, target.threshold, **offsets, run_time=run.until, estimate=False
        )
        for chunk in stores.capture.read_chunks(
            target.endpoint, target.spec, since=start, until=end, variants=[target.variant]
        ):
            judged.add(chunk)
        y_true, proba = judged.labelled()
        result["labelled_rows"] = len(y_true)
        result["labelled_window"] = {"since": _iso(utc(start)), "until": _iso(utc(end))}
    else:
        y_true, proba = tally.labelled()
        result["labelled_rows"] = len(y_true)
    if len(y_true) >= cfg.min_labels:
        result["model_quality"] = model_quality(y_true, proba, target.threshold)
    estimated = tally.estimated()
    if estimated is not None:
        result["estimated_quality"] = estimated
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
    _write_json(run.folder / "run.json", {**run.summary(), **run.problem_log.to_dict()})


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
    points.append(point(DATA_NAMESPACE, "input_problems", float(run.problem_log.total)))
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
