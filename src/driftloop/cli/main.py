"""Entry point: builds the Typer app and maps driftloop errors to one line and an exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
import typer

from driftloop.cli import (
    alarms,
    backend,
    batch,
    console,
    data,
    demo,
    deploy,
    endpoints,
    events,
    infra,
    invoke,
    models,
    monitor,
    pipeline,
    retrain,
    serve,
    setup,
    train,
    validation,
)
from driftloop.cli._context import err_console
from driftloop.config import load_log_settings
from driftloop.errors import DriftloopError
from driftloop.logging import configure_logging

app = typer.Typer(
    name="driftloop",
    help="The closed MLOps loop for tabular models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Config file (default: ./driftloop.toml or DRIFTLOOP_CONFIG)."
    ),
) -> None:
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


setup.register(app)
data.register(app)
validation.register(app)
train.register(app)
app.add_typer(models.app, name="models")
app.add_typer(endpoints.app, name="endpoints")
serve.register(app)
invoke.register(app)
batch.register(app)
monitor.register(app)
alarms.register(app)
events.register(app)
deploy.register(app)
retrain.register(app)
app.add_typer(pipeline.app, name="pipeline")
backend.register(app)
infra.register(app)
demo.register(app)
console.register(app)


# Commands that run until stopped say what they do at INFO; the others only warn.
RUN_UNTIL_STOPPED = (("serve",), ("agent",), ("monitor", "schedule"), ("console",))


def _default_log_level(args: list[str]) -> str:
    while args[:1] and args[0].startswith("-"):  # root options come before the command
        args = args[2:] if args[0] in ("-c", "--config") else args[1:]
    daemon = any(tuple(args[: len(command)]) == command for command in RUN_UNTIL_STOPPED)
    return "INFO" if daemon else "WARNING"


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; exits with 0 on success and the error's exit code otherwise."""
    # MLflow 3 reports usage to its makers from a thread of every process that opens a client;
    # driftloop's processes make no call outside the workspace and AWS unless the user says so.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        logs = load_log_settings()
        args = sys.argv[1:] if argv is None else argv
        configure_logging(logs.level or _default_log_level(args), logs.format)
        code = app(args=argv, standalone_mode=False, prog_name="driftloop")
    except DriftloopError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("aborted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def container_serve() -> None:
    """The SageMaker container entry point: ``serve`` runs the model in /opt/ml/model on 8080."""
    main(["serve", *sys.argv[1:]])
