"""``driftloop demo``: the whole loop on the embedded default, then a summary of what it made."""

from __future__ import annotations

import time

import typer
from rich.table import Table

from driftloop.cli._context import console, progress, settings
from driftloop.cli.train import show_outcome
from driftloop.demo import run_demo


def demo_cmd(ctx: typer.Context) -> None:
    """Generate data, preprocess, baseline, validate, train, register, gate and promote."""
    cfg = settings(ctx)
    started = time.perf_counter()
    with progress("demo") as say:
        report = run_demo(cfg, progress=say)
    if report.outcome is not None:
        show_outcome(report.outcome)
    table = Table("step", "outcome", title="driftloop demo")
    table.add_column("where", overflow="fold")
    for row in report.rows:
        table.add_row(*row)
    console.print(table)
    ws = cfg.workspace
    console.print(f"finished in {time.perf_counter() - started:.1f} s. Explore:")
    console.print(
        f"  mlflow ui --backend-store-uri {ws.tracking_uri} "
        f"--default-artifact-root {ws.artifacts.resolve().as_uri()}"
    )
    console.print("  driftloop models list")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
