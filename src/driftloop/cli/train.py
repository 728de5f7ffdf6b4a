"""``driftloop train``: fit candidates, track them in MLflow, register and gate the best."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

import typer
from rich.table import Table

from driftloop.cli._context import console, progress, settings
from driftloop.durations import parse_at_least
from driftloop.errors import GateFailed
from driftloop.flows import TrainingOutcome, train_and_register, train_on_sagemaker

_SHOWN = ("roc_auc", "pr_auc", "f1", "accuracy", "log_loss", "brier")


def train_cmd(
    ctx: typer.Context,
    train: Path | None = typer.Option(None, "--train", help="Training CSV (default: prepared)."),
    val: Path | None = typer.Option(None, "--val", help="Validation CSV (default: prepared)."),
    register: bool = typer.Option(True, "--register/--no-register", help="Register the best."),
    on: Literal["local", "sagemaker"] = typer.Option(
        "local", "--on", help="Train here, or as a SageMaker training job (backend.kind aws)."
    ),
    poll: str = typer.Option("30s", "--poll", help="How often to ask about a SageMaker job."),
) -> None:
    """Fit the configured candidates as MLflow runs; register and gate the best one.

    With --on sagemaker, train_model.py runs as a SageMaker training job on the same data
    and its model is registered here. Exits 7 when the job fails, 11 when the best candidate fails
    its gate (it is registered Rejected)."""
    cfg = settings(ctx)
    with progress("training") as say:
        if on == "sagemaker":
            every = parse_at_least(poll, timedelta(0), what="--poll").total_seconds()
            outcome = train_on_sagemaker(
                cfg, train, val, poll=every, progress=say, register=register
            )
        else:
            outcome = train_and_register(cfg, train, val, register=register, progress=say)
    show_outcome(outcome)
    registration = outcome.registration
    if registration is not None and not registration.gate.passed:
        version = registration.version
        raise GateFailed(
            f"{version.name} v{version.version} failed its gate "
            f"({'; '.join(registration.gate.failures)}) and was registered Rejected; "
            "the floors are the config key gate.min_metrics"
        )


def show_outcome(outcome: TrainingOutcome) -> None:
    """Print the candidates table and the registration verdict."""
    table = Table("candidate", *_SHOWN, "run", title="Candidates (validation)")
    for result in outcome.candidates:
        mark = " *" if result is outcome.best else ""
        values = [f"{result.metrics[m]:.4f}" for m in _SHOWN]
        table.add_row(result.name + mark, *values, result.run_id[:8])
    console.print(table)
    registration = outcome.registration
    if registration is None:
        return
    version = registration.version
    verdict = "[green]passed[/]" if registration.gate.passed else "[red]failed[/]"
    console.print(
        f"registered {version.name} v{version.version} ({outcome.best.name}); gate {verdict}; "
        f"approval {version.approval}; aliases: {', '.join(version.aliases) or '-'}"
    )
    for failure in registration.gate.failures:
        console.print(f"  [red]x[/] {failure}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_cmd)
