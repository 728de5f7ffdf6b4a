"""``driftloop train``: fit candidates, track them in MLflow, register and gate the best."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Literal

import typer
from rich.table import Table

from driftloop.backends.catalog import Backends, builds
from driftloop.cli._context import console, progress, settings
from driftloop.config import Settings
from driftloop.data.preprocess import MANIFEST
from driftloop.durations import parse_at_least
from driftloop.errors import ConfigError, GateFailed
from driftloop.flows import TrainingOutcome, baseline_for, load_pair, train_and_register
from driftloop.registry.base import TRAIN_SNAPSHOT_TAG
from driftloop.registry.lifecycle import register_and_gate
from driftloop.training.job_runs import JOB_TAG, hyperparameters, track_job_model
from driftloop.training.jobs import JobRequest, Progress

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
            outcome = train_on_sagemaker(cfg, train, val, every, say, register)
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


def train_on_sagemaker(
    cfg: Settings,
    train_path: Path | None,
    val_path: Path | None,
    poll: float,
    say: Progress,
    register: bool = True,
) -> TrainingOutcome:
    """As ``train_and_register``, with the fitting done by a training job: the data are
    checked and snapshotted here, the job trains on the same CSVs, and its model is logged
    as an MLflow run here, then registered and gated like a local candidate."""
    if "training" not in builds(cfg.backend.kind):
        raise ConfigError(
            f'train --on sagemaker needs backend.kind "aws" (the {cfg.backend.kind} backend '
            "runs no training jobs)"
        )
    stores = Backends.from_settings(cfg)
    jobs = stores.training
    jobs.require()  # before the first write
    train, val = load_pair(cfg, train_path, val_path)
    baseline = baseline_for(cfg, train)
    manifest = Path(train.source).parent / MANIFEST
    found = manifest if manifest.is_file() else None
    request = JobRequest(Path(train.source), Path(val.source), hyperparameters(cfg), found)
    say("uploading the channels and submitting the training job")
    name = jobs.submit(request)
    jobs.wait(name, say, poll=poll)
    with tempfile.TemporaryDirectory() as folder:
        best = track_job_model(cfg, name, jobs.fetch(name, Path(folder)), train, val)
    registration = None
    if register:
        say(f"registering {best.name} from {name} and running the gate")
        uri = baseline.constraints_path.parent.resolve().as_uri()
        tags = {TRAIN_SNAPSHOT_TAG: train.snapshot.digest, JOB_TAG: name}
        registration = register_and_gate(stores.registry, best, val, cfg, uri, tags)
    return TrainingOutcome(train, val, baseline, [best], best, registration)


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
