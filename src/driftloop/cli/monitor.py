"""``driftloop monitor run|schedule|analyze`` and ``driftloop labels put``."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from driftloop.cli._context import console, progress, settings
from driftloop.errors import ConfigError, DriftloopError

if TYPE_CHECKING:
    from driftloop.monitoring.job import MonitoringRun

app = typer.Typer(help="Monitoring jobs over captured traffic.", no_args_is_help=True)
labels_app = typer.Typer(help="Ground-truth labels for captured inferences.", no_args_is_help=True)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"'{text}' is not an ISO time like 2026-11-27T14:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    endpoint: str = typer.Option(..., "--endpoint", "-e", help="Endpoint to monitor."),
    since: str | None = typer.Option(None, "--since", help="Window start (ISO time, UTC)."),
    until: str | None = typer.Option(None, "--until", help="Window end (ISO time, default now)."),
    last: str = typer.Option(
        "1h", "--last", help="Window length ending now, if --since is not given."
    ),
    variant: str | None = typer.Option(None, "--variant", help="Variant (default: heaviest)."),
    report: bool = typer.Option(
        True, "--report/--no-report", help="Write the Evidently HTML report."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Processes parsing the capture (default: one per core)."
    ),
) -> None:
    """Check a window of captured traffic: data quality, drift, model quality, report."""
    from driftloop.durations import parse_at_least
    from driftloop.monitoring.job import run_monitoring

    cfg = settings(ctx)
    end = _moment(until) if until else datetime.now(UTC)
    start = (
        _moment(since) if since else end - parse_at_least(last, timedelta(seconds=1), what="--last")
    )
    with progress("monitoring") as say:
        run = run_monitoring(
            cfg, endpoint, start, end, variant=variant, report=report, workers=workers, progress=say
        )
    show_run(run)


def show_run(run: MonitoringRun) -> None:
    """Print a run's drift table, violations, quality and where its files are."""
    summary = run.summary()
    if run.drift is not None:
        table = Table("feature", "method", "score", "threshold", "drifted", title="Drift")
        for column in run.drift.columns:
            mark = "[red]yes[/]" if column.drifted else "no"
            table.add_row(
                column.column, column.method, f"{column.score:.4g}", f"{column.threshold:g}", mark
            )
        console.print(table)
        verdict = "[red]DRIFT[/]" if run.drift.dataset_drift else "[green]no drift[/]"
        console.print(f"dataset: {verdict} ({run.drift.share:.0%} of features drifted)")
    if run.violations:
        table = Table(
            "feature", "check", "description", title=f"{len(run.violations)} violation(s)"
        )
        for item in run.violations:
            name = item.get("feature_name") or item.get("metric_name", "")
            table.add_row(name, item["constraint_check_type"], item["description"])
        console.print(table)
    quality = (run.quality or {}).get("model_quality")
    if quality:
        console.print("model quality (labelled): " + _metrics(quality))
    estimate = (run.quality or {}).get("estimated_quality")
    if estimate:
        console.print("model quality (estimated from probabilities): " + _metrics(estimate))
    for problem in run.problems[:10]:
        console.print(
            f"[yellow]skipped[/] {problem['file']}:{problem['line']}: {problem['reason']}"
        )
    shown = len(run.problems[:10])
    if run.problem_log.total > shown:
        more = run.problem_log.total - shown
        console.print(f"[yellow]... and {more} more input problems (run.json)[/]")
    console.print(
        f"{summary['status']}: {run.rows} rows from {run.records} records of "
        f"{run.endpoint}/{run.variant} (v{run.version}) in {run.seconds:.1f} s -> {run.folder}"
    )


def _metrics(values: dict[str, float | None]) -> str:
    names = ("roc_auc", "precision", "recall", "f1", "accuracy")
    return ", ".join(f"{n} {values[n]:.3f}" for n in names if values.get(n) is not None)


@app.command("schedule")
def schedule_cmd(
    ctx: typer.Context,
    endpoint: str = typer.Option(..., "--endpoint", "-e", help="Endpoint to monitor."),
    every: str = typer.Option("15m", "--every", help="Interval (at least 1m): 1m, 15m, 1h."),
    variant: str | None = typer.Option(None, "--variant", help="Variant (default: heaviest)."),
) -> None:
    """Monitor the interval that just ended, every interval, until SIGTERM or Ctrl-C."""
    from driftloop.durations import parse_at_least
    from driftloop.monitoring.schedule import run_schedule

    cfg = settings(ctx)
    interval = parse_at_least(every, timedelta(minutes=1), what="--every")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"monitoring {endpoint} every {every}; SIGTERM or Ctrl-C stops")
    try:
        count = run_schedule(cfg, endpoint, interval, stop=stop, on_run=show_run, variant=variant)
    except KeyboardInterrupt:
        count = -1
    console.print(f"schedule stopped after {max(count, 0)} run(s)")


@app.command("analyze")
def analyze_cmd(ctx: typer.Context) -> None:
    """Run as a SageMaker Model Monitor analyzer (bring your own container).

    Reads the monitoring job's environment (sagemaker_endpoint_name, start_time, end_time,
    dataset_source, baseline_statistics, baseline_constraints, output_path,
    publish_cloudwatch_metrics, ...), checks the window's captured traffic against the baseline
    and writes statistics.json, constraint_violations.json and run.json to output_path, the
    CloudWatch metrics file and the job's exit message. A failure exits non-zero with its reason
    in the exit message.
    """
    from driftloop.monitoring.container import Contract, analyze, message_file, write_message

    def failed(reason: str) -> None:
        with contextlib.suppress(OSError):  # the reason still reaches stderr and the exit code
            write_message(message_file(os.environ), f"Failed: {reason}")

    try:
        contract = Contract.from_environ(os.environ)
        found = analyze(contract, target=settings(ctx).data.target)
    except DriftloopError as exc:
        failed(exc.message)
        raise
    except OSError as exc:  # an unreadable capture file, an output folder it may not write
        reason = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
        failed(reason)
        raise DriftloopError(reason) from None
    if found.violations:
        table = Table(
            "feature", "check", "description", title=f"{len(found.violations)} violation(s)"
        )
        for item in found.violations:
            table.add_row(item["feature_name"], item["constraint_check_type"], item["description"])
        console.print(table)
    console.print(found.message(), highlight=False, soft_wrap=True)


def container_analyze() -> None:
    """The monitoring container's entry point (``ContainerEntrypoint: ["monitor-analyze"]``)."""
    from driftloop.cli.main import main

    main(["monitor", "analyze", *sys.argv[1:]])


@labels_app.command("put")
def labels_put_cmd(
    ctx: typer.Context,
    source: Path = typer.Argument(
        ..., help="groundTruthData JSON Lines, or CSV inference_id,label."
    ),
    endpoint: str = typer.Option(..., "--endpoint", "-e", help="Endpoint the labels belong to."),
) -> None:
    """Store ground-truth labels; monitoring merges them with captures on inferenceId/eventId."""
    from driftloop.backends.catalog import Backends
    from driftloop.monitoring.target import resolve_target

    cfg = settings(ctx)
    spec = resolve_target(cfg, endpoint).spec
    result = Backends.from_settings(cfg).labels.put_file(endpoint, source, spec)
    console.print(f"stored {result}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="monitor")
    root.add_typer(labels_app, name="labels")
