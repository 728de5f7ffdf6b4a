"""``driftloop pipeline run|list|show``: the cached training pipeline, its runs and lineage."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from driftloop.cli._context import console, progress, settings
from driftloop.errors import ConfigError
from driftloop.pipelines.lineage import lineage
from driftloop.pipelines.store import (
    EXECUTING,
    PipelineStore,
    RunRecord,
    StepRecord,
    orphaned,
)

app = typer.Typer(
    help="The training pipeline (ingest, validate, train, evaluate, register, deploy) with "
    "cached steps, resume and lineage.",
    no_args_is_help=True,
)

_COLOURS = {"Succeeded": "green", "Failed": "red", "Skipped": "yellow", "Executing": "cyan"}
_ORPHANED = "magenta"


@app.command("run")
def run_cmd(
    ctx: typer.Context,
    input_csv: Path | None = typer.Option(
        None, "--input", "-i", help="Raw CSV to train on (required unless --resume)."
    ),
    endpoint: str | None = typer.Option(
        None, "--endpoint", "-e", help="Deploy the new version here when it is Approved."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute every step."),
    resume: str | None = typer.Option(
        None,
        "--resume",
        metavar="RUN_ID",
        help="Continue a Failed run, or an orphaned one (its process is gone), from its failed "
        "step.",
    ),
    fail_on_violation: bool = typer.Option(
        False,
        "--fail-on-violation",
        help="Fail the validate step when the validation split breaks the baseline's constraints.",
    ),
) -> None:
    """Run the training pipeline; unchanged steps come from the cache.

    A failed step exits non-zero and leaves the run Failed: continue it with --resume RUN_ID,
    as you can a run left Executing by a killed process (shown as "Executing (orphaned)").
    """
    from driftloop.pipelines.training import resume_training, run_training

    cfg = settings(ctx)
    if resume is not None and (input_csv or endpoint or fail_on_violation):
        raise ConfigError(
            "--resume continues a run with its own parameters; drop --input, --endpoint and "
            "--fail-on-violation"
        )
    if resume is None and input_csv is None:
        raise ConfigError("--input CSV is required (or --resume RUN_ID)")
    with _sigterm_interrupts(), progress("pipeline") as say:
        if resume is not None:
            record = resume_training(cfg, resume, cache=not no_cache, on_step=_print, say=say)
        else:
            assert input_csv is not None
            record = run_training(
                cfg,
                input_csv,
                endpoint=endpoint,
                fail_on_violation=fail_on_violation,
                cache=not no_cache,
                on_step=_print,
                say=say,
            )
    _show(PipelineStore(cfg.workspace), record)


@app.command("list")
def list_cmd(ctx: typer.Context, limit: int = typer.Option(20, "--limit", "-n")) -> None:
    """The newest pipeline runs."""
    runs = PipelineStore(settings(ctx).workspace).list_runs(limit)
    table = Table("run", "status", "started (UTC)", "duration", "input", "endpoint", "failed step")
    for run in runs:
        table.add_row(
            run.run_id,
            _run_status(run),
            _when(run.started),
            _seconds(run.started, run.ended),
            Path(run.params.get("input", "-")).name,
            run.params.get("endpoint") or "-",
            run.failed_step or "-",
        )
    console.print(table if runs else "no pipeline runs yet (run `driftloop pipeline run`)")


@app.command("show")
def show_cmd(ctx: typer.Context, run_id: str = typer.Argument(..., help="Run id.")) -> None:
    """A run's steps (status, cache hits, durations) and its lineage."""
    store = PipelineStore(settings(ctx).workspace)
    _show(store, store.get_run(run_id))


def _show(store: PipelineStore, run: RunRecord) -> None:
    console.print(
        f"[bold]{run.run_id}[/] ({run.pipeline}) {_run_status(run)}, started "
        f"{_when(run.started)} UTC, took {_seconds(run.started, run.ended)}",
        highlight=False,
    )
    if run.error:
        console.print(f"[red]failed at {run.error}[/]", highlight=False)
    elif run.status == EXECUTING and run.owner is not None:
        console.print(_whereabouts(run), highlight=False)
    steps = store.steps(run.run_id)
    table = Table("step", "status", "attempt", "cached from", "duration", "note", title="Steps")
    for step in steps:
        note = step.error or step.outputs.get("reason") or ""
        table.add_row(
            step.step,
            _status(step.status),
            str(step.attempt),
            step.cached_from or "-",
            _seconds(step.started, step.ended),
            note,
        )
    console.print(table)
    links = Table("artifact", "id", "derived from", title="Lineage")
    for link in lineage(run, steps):
        links.add_row(link.kind, link.ref, link.derived_from)
    console.print(links)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops a run like Ctrl-C: the step fails, a deployment rolls back, and the run is
    Failed, so it can be resumed."""

    def interrupt(*_args: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print(step: StepRecord) -> None:
    cached = f" (cached from {step.cached_from})" if step.cached_from else ""
    note = step.error or step.outputs.get("reason")
    console.print(
        f"{step.step}: {_status(step.status)}{cached} in {_seconds(step.started, step.ended)}"
        + (f" - {note}" if note else ""),
        highlight=False,
    )


def _run_status(run: RunRecord) -> str:
    return f"[{_ORPHANED}]Executing (orphaned)[/]" if orphaned(run) else _status(run.status)


def _whereabouts(run: RunRecord) -> str:
    """Which process executes a run, and for an orphaned one how to continue it."""
    assert run.owner is not None
    if orphaned(run):
        return (
            f"[{_ORPHANED}]orphaned: {run.owner} is gone; continue it with "
            f"`driftloop pipeline run --resume {run.run_id}`[/]"
        )
    elsewhere = "" if run.owner.local else " (another host: only it can tell whether it is gone)"
    return f"executing in {run.owner}{elsewhere}"


def _status(status: str) -> str:
    return f"[{_COLOURS.get(status, 'white')}]{status}[/]"


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _seconds(started: float, ended: float | None) -> str:
    return "-" if ended is None else f"{ended - started:.1f} s"
