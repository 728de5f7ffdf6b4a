"""driftloop as a SageMaker Model Monitor analyzer: the bring-your-own-container contract.

A monitoring schedule starts a Processing job on the image with the window's context in its
environment. This module reads that contract, checks the window's captured traffic against the
baseline with the same code as :func:`driftloop.monitoring.job.run_monitoring`, and writes what
Model Monitor reads back.

Inputs (environment variables, the contract's names):

- ``sagemaker_endpoint_name`` (required): the endpoint, the first folder of the capture layout.
- ``start_time``, ``end_time`` (required, ``2024-01-31T14:00:00Z``): the window ``[start, end)``.
  Capture files of the hours around it may be there too; records are kept by their
  ``eventMetadata.inferenceTime``.
- ``dataset_source`` (default ``/opt/ml/processing/input/endpoint``): captured traffic in
  SageMaker's layout ``{endpoint}/{variant}/yyyy/mm/dd/hh/*.jsonl``; every variant is read.
- ``dataset_format`` (optional): must be ``sagemakerCaptureJson`` with ``endpointInput`` among
  its ``captureIndexNames``; batch transform formats are refused.
- ``baseline_statistics`` (default ``/opt/ml/processing/baseline/stats/statistics.json``) and
  ``baseline_constraints`` (default ``/opt/ml/processing/baseline/constraints/constraints.json``).
- ``output_path`` (default ``/opt/ml/processing/output``): where the reports go.
- ``publish_cloudwatch_metrics`` (``Enabled`` or ``Disabled``, default ``Disabled``).
- ``sagemaker_monitoring_schedule_name`` (default ``<endpoint>-monitoring``): the
  ``MonitoringSchedule`` dimension of the metrics.
- ``metric_time`` (default ``start_time``): the metrics' timestamp.
- ``SM_OUTPUT_DIR`` (default ``/opt/ml/output``): the Processing job's output folder, holding
  ``message`` and ``metrics/cloudwatch/``.

Outputs: ``statistics.json`` of the window and ``constraint_violations.json`` (the data-quality
checks and ``baseline_drift_check``) in ``output_path``, plus ``run.json`` (status, counts, the
baseline drift distances, and the capture lines that could not be used: counted by kind and
by file, the first ones of each file with their line). With
``publish_cloudwatch_metrics=Enabled``, ``metrics/cloudwatch/metrics.jsonl`` holds one
``PutMetricData``-shaped line per metric (``MetricName``, ``Timestamp``, ``Dimensions``
``Endpoint`` and ``MonitoringSchedule``, ``Value``, ``Unit``), with the names the monitoring job
publishes: ``violations``, ``input_problems``, ``captured_rows`` and
``feature_baseline_drift_<feature>`` (for features whose ``emit_metrics`` is ``Enabled``). The
platform puts them in its data-metrics namespace. ``message`` gets a one-line summary, or the
reason of a failure (the job's ``ExitMessage``); a failure also exits non-zero. Violations are
findings, not failures: the job completes and Model Monitor reports
``CompletedWithViolations``.

The schema comes from the baseline, since the container has no model: the baseline statistics
name the columns in the model's order (headerless CSV requests are read in that order) and type
them (``Integral``/``Fractional`` numeric, else categorical); the baseline constraints'
``driftloop.ignored_columns`` are id columns a request may carry. A driftloop baseline also
describes the target, which requests do not carry: the caller names it (``data.target`` of the
settings, ``DRIFTLOOP_DATA__TARGET``), and it is left out of the inputs when the baseline holds
it. A baseline of the endpoint's inputs alone (as Model Monitor suggests one) needs nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from driftloop.capture.reader import folder_files, iter_chunks, utc
from driftloop.data.spec import ColumnSpec, Kind, Role, TabularSpec
from driftloop.errors import ConfigError, DataError, NotFoundError
from driftloop.monitoring import baseline_drift
from driftloop.monitoring.job import run_status, schedule_name
from driftloop.monitoring.problems import ProblemLog, problem_kind
from driftloop.monitoring.window_summary import WindowSummary
from driftloop.validation import load_constraints, load_statistics
from driftloop.validation.constraints import ignored_columns, monitoring_config
from driftloop.workspace import atomic_write_text

DEFAULT_DATASET_SOURCE = "/opt/ml/processing/input/endpoint"
DEFAULT_OUTPUT_PATH = "/opt/ml/processing/output"
DEFAULT_BASELINE_STATISTICS = "/opt/ml/processing/baseline/stats/statistics.json"
DEFAULT_BASELINE_CONSTRAINTS = "/opt/ml/processing/baseline/constraints/constraints.json"
DEFAULT_ML_OUTPUT = "/opt/ml/output"
METRICS_FILE = "metrics.jsonl"
MESSAGE_LIMIT = 1024  # DescribeProcessingJob's ExitMessage keeps the first 1 KB
NUMERIC_TYPES = frozenset({"Integral", "Fractional"})


@dataclass(frozen=True)
class Contract:
    """One monitoring execution's context, as the environment gave it."""

    endpoint: str
    schedule: str
    start: datetime
    end: datetime
    metric_time: datetime
    dataset_source: Path
    output_path: Path
    baseline_statistics: Path
    baseline_constraints: Path
    publish_metrics: bool
    ml_output: Path

    @property
    def metrics_file(self) -> Path:
        return self.ml_output / "metrics" / "cloudwatch" / METRICS_FILE

    @property
    def message_file(self) -> Path:
        return self.ml_output / "message"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Contract:
        """Read and check every variable; errors are one sentence naming the variable."""
        endpoint = _required(environ, "sagemaker_endpoint_name", "the monitored endpoint")
        start = _moment(environ, "start_time")
        end = _moment(environ, "end_time")
        if end <= start:
            raise ConfigError(
                f"end_time ({_iso(end)}) is not after start_time ({_iso(start)})",
                details={"variable": "end_time"},
            )
        _check_format(environ.get("dataset_format"))
        source = Path(environ.get("dataset_source") or DEFAULT_DATASET_SOURCE)
        if not source.is_dir():
            raise NotFoundError(
                f"dataset_source {source} is not a folder (the captured traffic's local path)",
                details={"variable": "dataset_source", "path": str(source)},
            )
        return cls(
            endpoint=endpoint,
            schedule=environ.get("sagemaker_monitoring_schedule_name") or schedule_name(endpoint),
            start=start,
            end=end,
            metric_time=_moment(environ, "metric_time") if environ.get("metric_time") else start,
            dataset_source=source,
            output_path=Path(environ.get("output_path") or DEFAULT_OUTPUT_PATH),
            baseline_statistics=_baseline_file(
                environ, "baseline_statistics", DEFAULT_BASELINE_STATISTICS
            ),
            baseline_constraints=_baseline_file(
                environ, "baseline_constraints", DEFAULT_BASELINE_CONSTRAINTS
            ),
            publish_metrics=_switch(environ, "publish_cloudwatch_metrics"),
            ml_output=Path(environ.get("SM_OUTPUT_DIR") or DEFAULT_ML_OUTPUT),
        )


def _required(environ: Mapping[str, str], name: str, what: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"the environment variable {name} ({what}) is not set", details={"variable": name}
        )
    return value


def _moment(environ: Mapping[str, str], name: str) -> datetime:
    text = _required(environ, name, "a UTC time like 2024-01-31T14:00:00Z")
    try:
        # The contract's documented example writes "2019-12-01T16: 20: 00Z": spaces go.
        moment = datetime.fromisoformat(text.replace(" ", "").replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{name} '{text}' is not a time like 2024-01-31T14:00:00Z",
            details={"variable": name, "value": text},
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _check_format(text: str | None) -> None:
    """Only an endpoint's data capture with its requests can be checked for data quality."""
    if not text:
        return
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(
            f"dataset_format '{text}' is not JSON", details={"variable": "dataset_format"}
        ) from None
    formats = {str(k).lower(): v for k, v in raw.items()} if isinstance(raw, dict) else {}
    capture = formats.get("sagemakercapturejson")
    if not isinstance(capture, dict):
        raise ConfigError(
            f"dataset_format '{text}' is not supported: the analyzer reads an endpoint's data "
            "capture (sagemakerCaptureJson), not batch transform or merged data",
            details={"variable": "dataset_format"},
        )
    names = capture.get("captureIndexNames", ["endpointInput"])
    if not isinstance(names, list) or "endpointInput" not in names:
        raise ConfigError(
            f"dataset_format '{text}' leaves out endpointInput, the requests whose data quality "
            "the analyzer checks",
            details={"variable": "dataset_format"},
        )


def _baseline_file(environ: Mapping[str, str], name: str, default: str) -> Path:
    given = environ.get(name)
    path = Path(given or default)
    if path.is_file():
        return path
    if given:
        problem = f"{name} names {path}, which is not a file"
    else:
        problem = (
            f"{name} is not set and {path} does not exist (give the monitoring job definition "
            "a baseline)"
        )
    raise NotFoundError(problem, details={"variable": name, "path": str(path)})


def _switch(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name) or "Disabled"
    if value not in ("Enabled", "Disabled"):
        raise ConfigError(
            f"{name} is '{value}', not Enabled or Disabled",
            details={"variable": name, "value": value},
        )
    return value == "Enabled"


def baseline_spec(
    statistics: Mapping[str, Any], constraints: Mapping[str, Any], target: str | None
) -> TabularSpec:
    """The request schema a baseline describes (see the module docstring).

    ``target`` is the baseline column requests do not carry; ignored when the baseline has none
    of that name.
    """
    features = statistics.get("features", [])
    if not features:
        raise DataError("the baseline statistics name no features, so no request can be read")
    columns = [ColumnSpec(name, "categorical", "id") for name in ignored_columns(constraints)]
    named = {c.name for c in columns}
    for feature in features:
        if feature["name"] in named:
            continue
        kind: Kind = "numeric" if feature.get("inferred_type") in NUMERIC_TYPES else "categorical"
        role: Role = "target" if feature["name"] == target else "feature"
        columns.append(ColumnSpec(feature["name"], kind, role))
    found_target = (target or "") if any(c.role == "target" for c in columns) else ""
    return TabularSpec(tuple(columns), found_target, positive_label="")


def _inputs_only(spec: TabularSpec) -> TabularSpec:
    """The columns the window's statistics describe: the request's features."""
    columns = tuple(c for c in spec.columns if c.role == "feature")
    return TabularSpec(columns, spec.target, spec.positive_label)


@dataclass
class Analysis:
    """What one execution found; ``contract`` says where its files went."""

    contract: Contract
    records: int = 0
    rows: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    """The first input problems of each capture file; ``problem_log`` counts them all."""
    problem_log: ProblemLog = field(default_factory=ProblemLog)
    violations: list[dict[str, str]] = field(default_factory=list)
    distances: dict[str, float] = field(default_factory=dict)
    emitted: list[str] = field(default_factory=list)  # features whose drift metric is emitted

    @property
    def status(self) -> str:
        return run_status(self.rows, self.violations)

    def summary(self) -> dict[str, Any]:
        return {
            "endpoint": self.contract.endpoint,
            "monitoring_schedule": self.contract.schedule,
            "status": self.status,
            "window": {"since": _iso(self.contract.start), "until": _iso(self.contract.end)},
            "records": self.records,
            "rows": self.rows,
            "violations": len(self.violations),
            "baseline_drift": self.distances,
            **self.problem_log.to_dict(),
        }

    def message(self) -> str:
        """One line for the job's ExitMessage."""
        c = self.contract
        text = (
            f"{self.status}: {self.rows} rows from {self.records} capture records of "
            f"{c.endpoint} in [{_iso(c.start)}, {_iso(c.end)}), "
            f"{len(self.violations)} violation(s)"
        )
        if self.problems:  # where and what kind only: a reason may quote captured values
            first = self.problems[0]
            text += (
                f", {self.problem_log.total} capture line(s) not usable (run.json), first "
                f"{first['file']}:{first['line']} ({problem_kind(first['reason'])})"
            )
        return text


def analyze(contract: Contract, *, target: str | None) -> Analysis:
    """Check the window against the baseline and write every output of the contract.

    The window is read as a stream of chunks and checked chunk by chunk, as the monitoring job
    checks it, so memory does not grow with the window.
    """
    statistics_baseline = load_statistics(contract.baseline_statistics)
    constraints = load_constraints(contract.baseline_constraints)
    spec = baseline_spec(statistics_baseline, constraints, target)
    summary = WindowSummary(
        _inputs_only(spec),  # the monitoring job's statistics
        dict(constraints),
        optional_columns=[spec.target] if spec.target else [],
        quality=None,
        sample_rows=0,
    )
    since, until = utc(contract.start), utc(contract.end)
    files = folder_files(contract.dataset_source, contract.endpoint, since, until, None)
    for chunk in iter_chunks(files, spec, since=since, until=until):
        summary.add(chunk)
    analysis = Analysis(contract, records=summary.records, rows=summary.rows)
    analysis.problem_log = summary.problems
    analysis.problems = [asdict(problem) for problem in summary.problems.examples()]
    if analysis.rows:
        _check(analysis, summary, statistics_baseline, constraints)
    _write_json(
        contract.output_path / "constraint_violations.json", {"violations": analysis.violations}
    )
    _write_json(contract.output_path / "run.json", analysis.summary())
    if contract.publish_metrics:
        _write_metrics(analysis)
    write_message(contract.message_file, analysis.message())
    return analysis


def _check(
    analysis: Analysis,
    summary: WindowSummary,
    baseline: Mapping[str, Any],
    constraints: Mapping[str, Any],
) -> None:
    """The monitoring job's data checks: statistics, constraints and baseline drift."""
    statistics = summary.statistics.result()
    _write_json(analysis.contract.output_path / "statistics.json", statistics)
    analysis.distances = baseline_drift.distances(baseline, statistics)
    analysis.violations = summary.tally.violations() + baseline_drift.drift_violations(
        analysis.distances, constraints
    )
    by_name = {f["name"]: f for f in constraints.get("features", [])}
    analysis.emitted = [
        name
        for name in analysis.distances
        if monitoring_config(constraints, by_name.get(name))["emit_metrics"] == "Enabled"
    ]


def metric_lines(analysis: Analysis) -> list[dict[str, Any]]:
    """The CloudWatch metrics file's records (the BYOC schema, close to PutMetricData)."""
    c = analysis.contract
    dimensions = [
        {"Name": "Endpoint", "Value": c.endpoint},
        {"Name": "MonitoringSchedule", "Value": c.schedule},
    ]

    def line(name: str, value: float, unit: str) -> dict[str, Any]:
        return {
            "MetricName": name,
            "Timestamp": _iso(c.metric_time),
            "Dimensions": dimensions,
            "Value": value,
            "Unit": unit,
        }

    lines = [
        line("violations", float(len(analysis.violations)), "Count"),
        line("input_problems", float(analysis.problem_log.total), "Count"),
        line("captured_rows", float(analysis.rows), "Count"),
    ]
    for name in analysis.emitted:
        lines.append(line(f"feature_baseline_drift_{name}", analysis.distances[name], "None"))
    return lines


def _write_metrics(analysis: Analysis) -> None:
    lines = metric_lines(analysis)
    text = "".join(json.dumps(record, allow_nan=False) + "\n" for record in lines)
    atomic_write_text(analysis.contract.metrics_file, text)


def write_message(path: Path, text: str) -> None:
    """The job's ExitMessage: UTF-8, cut to the 1 KB the platform keeps."""
    body = text.encode("utf-8")[: MESSAGE_LIMIT - 1].decode("utf-8", errors="ignore")
    atomic_write_text(path, body + "\n")


def message_file(environ: Mapping[str, str]) -> Path:
    """Where a failure's reason goes, even when the rest of the contract is unreadable."""
    return Path(environ.get("SM_OUTPUT_DIR") or DEFAULT_ML_OUTPUT) / "message"


def _write_json(path: Path, payload: Any) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
