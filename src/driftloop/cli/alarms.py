"""``driftloop alarms put|list|history|delete`` and ``driftloop metrics get``.

``alarms put`` takes the same flags as ``aws cloudwatch put-metric-alarm`` (or its
``--cli-input-json`` file), so an existing alarm definition works as written.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from driftloop.cli._context import console, err_console, settings
from driftloop.errors import ConfigError

if TYPE_CHECKING:
    from driftloop.alarms.base import AlarmStore
    from driftloop.alarms.definition import AlarmDefinition
    from driftloop.backends.catalog import Backends
    from driftloop.metrics.base import MetricStore

app = typer.Typer(
    help="CloudWatch-style alarms on the workspace metric store.", no_args_is_help=True
)
metrics_app = typer.Typer(help="Metric datapoints.", no_args_is_help=True)


def _store(ctx: typer.Context) -> AlarmStore:
    return _backends(ctx).alarms


def _backends(ctx: typer.Context) -> Backends:
    from driftloop.backends.catalog import Backends

    return Backends.from_settings(settings(ctx))


def _dimensions(items: list[str]) -> list[dict[str, str]]:
    """``Name=EndpointName,Value=churn`` (the AWS CLI shorthand) or ``EndpointName=churn``."""
    found = []
    for item in items:
        parts = dict(p.split("=", 1) for p in item.split(",") if "=" in p)
        if "Name" in parts and "Value" in parts:
            found.append({"Name": parts["Name"], "Value": parts["Value"]})
        elif len(parts) == 1:
            ((name, value),) = parts.items()
            found.append({"Name": name, "Value": value})
        else:
            raise ConfigError(f"dimension '{item}' is not Name=N,Value=V")
    return found


@app.command("put")
def put_cmd(
    ctx: typer.Context,
    alarm_name: str | None = typer.Option(None, "--alarm-name"),
    metric_name: str | None = typer.Option(None, "--metric-name"),
    namespace: str | None = typer.Option(None, "--namespace"),
    statistic: str | None = typer.Option(None, "--statistic"),
    extended_statistic: str | None = typer.Option(None, "--extended-statistic"),
    period: int | None = typer.Option(None, "--period"),
    evaluation_periods: int | None = typer.Option(None, "--evaluation-periods"),
    datapoints_to_alarm: int | None = typer.Option(None, "--datapoints-to-alarm"),
    threshold: float | None = typer.Option(None, "--threshold"),
    comparison_operator: str | None = typer.Option(None, "--comparison-operator"),
    treat_missing_data: str | None = typer.Option(None, "--treat-missing-data"),
    low_sample_count: str | None = typer.Option(
        None, "--evaluate-low-sample-count-percentile", help="evaluate or ignore (percentiles)."
    ),
    dimensions: list[str] | None = typer.Option(None, "--dimensions", help="Name=N,Value=V"),
    alarm_actions: list[str] | None = typer.Option(None, "--alarm-actions"),
    ok_actions: list[str] | None = typer.Option(None, "--ok-actions"),
    alarm_description: str | None = typer.Option(None, "--alarm-description"),
    cli_input_json: Path | None = typer.Option(None, "--cli-input-json", help="JSON definition."),
) -> None:
    """Create or replace an alarm (same fields as `aws cloudwatch put-metric-alarm`)."""
    from driftloop.alarms.definition import parse_alarm

    fields: dict[str, object] = {}
    if cli_input_json is not None:
        try:
            fields.update(json.loads(cli_input_json.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{cli_input_json}: not a readable JSON alarm ({exc})") from None
    flags = {
        "AlarmName": alarm_name,
        "MetricName": metric_name,
        "Namespace": namespace,
        "Statistic": statistic,
        "ExtendedStatistic": extended_statistic,
        "Period": period,
        "EvaluationPeriods": evaluation_periods,
        "DatapointsToAlarm": datapoints_to_alarm,
        "Threshold": threshold,
        "ComparisonOperator": comparison_operator,
        "TreatMissingData": treat_missing_data,
        "EvaluateLowSampleCountPercentile": low_sample_count,
        "AlarmActions": alarm_actions,
        "OKActions": ok_actions,
        "AlarmDescription": alarm_description,
        "Dimensions": _dimensions(dimensions) if dimensions else None,
    }
    fields.update({k: v for k, v in flags.items() if v is not None})
    alarm = parse_alarm(fields, strict=True)
    _store(ctx).put(alarm)
    console.print(
        f"alarm {alarm.alarm_name} stored (INSUFFICIENT_DATA until the agent evaluates it)"
    )
    warning = _no_data_warning(_backends(ctx).metrics, alarm)
    if warning:
        err_console.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


def _no_data_warning(metrics: MetricStore, alarm: AlarmDefinition) -> str:
    """A warning when no stored datapoint (the whole metric store) has the alarm's namespace,
    metric and exact dimensions, naming the dimension sets that metric has; '' otherwise."""
    found = metrics.list_dimensions(alarm.namespace, alarm.metric_name)
    if alarm.dimensions in found:
        return ""
    head = (
        f"no datapoint in the metric store has namespace {alarm.namespace!r}, metric "
        f"{alarm.metric_name!r} and dimensions {_shown(alarm.dimensions)}"
    )
    if not found:
        return f"{head}; the metric has no datapoints at all yet."
    sets = "; ".join(_shown(dimensions) for dimensions in found)
    return f"{head}; the metric has datapoints with these dimensions: {sets}."


def _shown(dimensions: dict[str, str]) -> str:
    inner = ", ".join(f"{name}={value}" for name, value in sorted(dimensions.items()))
    return "{" + inner + "}"


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Alarms with their state and reason."""
    store = _store(ctx)
    table = Table("alarm", "metric", "condition", "state", "reason")
    for alarm in store.list():
        state = store.get(alarm.alarm_name)
        stat = alarm.statistic or alarm.extended_statistic
        periods = f"{alarm.evaluation_periods}x{alarm.period}s"
        condition = f"{stat} {alarm.comparison_operator} {alarm.threshold:g} ({periods})"
        table.add_row(
            alarm.alarm_name,
            f"{alarm.namespace}/{alarm.metric_name}",
            condition,
            state.state,
            state.reason,
        )
    console.print(table)


@app.command("history")
def history_cmd(
    ctx: typer.Context, name: str | None = typer.Argument(None), limit: int = 50
) -> None:
    """State changes, newest first."""
    table = Table("time", "alarm", "from", "to", "reason")
    for item in _store(ctx).history(name, limit=limit):
        table.add_row(str(item.time), item.alarm_name, item.old, item.new, item.reason)
    console.print(table)


@app.command("delete")
def delete_cmd(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Delete an alarm."""
    _store(ctx).delete(name)
    console.print(f"deleted alarm {name}")


@metrics_app.command("get")
def metrics_get_cmd(
    ctx: typer.Context,
    endpoint: str = typer.Option(..., "--endpoint", "-e"),
    metric: str = typer.Option("ModelLatency", "--metric", "-m"),
    stat: str = typer.Option(
        "Average", "--stat", help="Average, Sum, SampleCount, Minimum, Maximum, p99..."
    ),
    period: int = typer.Option(60, "--period", help="Seconds: 10, 30 or a multiple of 60."),
    since: str = typer.Option("1h", "--since", help="How far back: 15m, 1h, 1d."),
    variant: str | None = typer.Option("AllTraffic", "--variant", help="Variant ('' for none)."),
    namespace: str = typer.Option("AWS/SageMaker", "--namespace"),
    plot: Path | None = typer.Option(None, "--plot", help="Also draw the series to this PNG."),
) -> None:
    """Print a metric's series (CloudWatch statistics over periods)."""
    from driftloop.durations import parse_at_least
    from driftloop.metrics.statistics import series
    from driftloop.monitoring.job import schedule_name

    dims = {"EndpointName": endpoint}
    if namespace != "AWS/SageMaker":
        dims = {"Endpoint": endpoint, "MonitoringSchedule": schedule_name(endpoint)}
    elif variant:
        dims["VariantName"] = variant
    until = datetime.now(UTC)
    start = until - parse_at_least(since, timedelta(minutes=1), what="--since")
    points = series(_backends(ctx).metrics, namespace, metric, dims, stat, period, start, until)
    table = Table("period start (UTC)", f"{stat} {metric}")
    for moment, value in points:
        shown = "-" if value is None else f"{value:.6g}"
        table.add_row(datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%d %H:%M"), shown)
    console.print(table)
    if plot is not None:
        _plot(points, f"{stat} {metric} ({endpoint})", plot)
        console.print(f"plot: {plot}")


def _plot(points: list[tuple[int, float | None]], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 3.5))
    xs = [datetime.fromtimestamp(t, tz=UTC) for t, v in points if v is not None]
    ys = [v for _, v in points if v is not None]
    # matplotlib converts datetimes itself; its stubs only admit numbers and arrays
    axes.plot(xs, ys, marker="o")  # type: ignore[arg-type]
    axes.set(title=title, xlabel="time (UTC)")
    figure.autofmt_xdate()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="alarms")
    root.add_typer(metrics_app, name="metrics")
