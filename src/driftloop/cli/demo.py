"""``driftloop demo``: the whole loop on the embedded default, then a summary of what it made."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from driftloop.cli._context import console, progress, settings
from driftloop.demo import DemoReport, run_demo


def demo_cmd(
    ctx: typer.Context,
    keep_serving: bool = typer.Option(
        False,
        "--keep-serving",
        help="Leave the demo's endpoint and its console running at the end.",
    ),
) -> None:
    """Train, serve, monitor, detect drift, alarm, retrain, canary and roll back, for real."""
    cfg = settings(ctx)
    started = time.perf_counter()
    with progress("demo") as say:
        report = run_demo(cfg, progress=say, keep_serving=keep_serving)
    _candidates(report)
    table = Table("step", "outcome", title="driftloop demo")
    table.add_column("where", overflow="fold")
    for row in report.rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"finished in {time.perf_counter() - started:.0f} s.")
    _explore(report, keep_serving)


def _candidates(report: DemoReport) -> None:
    """v1's candidates as the pipeline's train step recorded them."""
    trained = [step.outputs for step in report.training if step.step == "train" and step.outputs]
    if not trained:
        return
    shown = ("roc_auc", "pr_auc", "f1", "accuracy", "log_loss")
    table = Table("candidate", *shown, "MLflow run", title=f"v1 candidates ({report.pipeline_run})")
    for candidate in trained[0]["candidates"]:
        best = " *" if candidate["run_id"] == trained[0]["best"]["run_id"] else ""
        values = [f"{candidate['metrics'][m]:.4f}" for m in shown]
        table.add_row(candidate["name"] + best, *values, candidate["run_id"][:8])
    console.print(table)


def _explore(report: DemoReport, keep_serving: bool) -> None:
    folder = report.folder
    assert folder is not None
    ws = folder / ".driftloop"
    console.print(f"Explore (the demo's config is {folder / 'driftloop.toml'}):", highlight=False)
    lines = [
        f"cd {folder}",
        f"mlflow ui --backend-store-uri sqlite:///{ws / 'mlflow.db'} "
        f"--default-artifact-root {(ws / 'mlartifacts').as_uri()}",
        "driftloop models list",
        f"driftloop pipeline show {report.pipeline_run}",
        "driftloop events list",
        "driftloop alarms history",
        "driftloop metrics get --endpoint churn --period 10 --plot latency.png",
    ]
    if keep_serving and report.endpoint_url:
        lines.append(
            f"curl {report.endpoint_url}/ping   # the endpoint is still up (pid "
            f"{report.endpoint_pid}); `kill {report.endpoint_pid}` stops it"
        )
    if keep_serving and report.console_url:
        lines.append(
            f"open {report.console_url}   # the console (pid {report.console_pid}); "
            "it stops with the endpoint"
        )
    for line in lines:
        console.print(f"  {line}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
