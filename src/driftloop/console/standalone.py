"""The console command without the rest of the CLI, for ``python -m driftloop.console``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import typer

from driftloop.cli.console import console_cmd
from driftloop.config import load_log_settings
from driftloop.errors import DriftloopError
from driftloop.logging import configure_logging


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command()
    def console(
        ctx: typer.Context,
        config: Path | None = typer.Option(None, "--config", "-c", help="Config file."),
        host: str = typer.Option("127.0.0.1", "--host"),
        port: int = typer.Option(8090, "--port", "-p"),
        poll: float = typer.Option(3.0, "--poll"),
        endpoint_url: str | None = typer.Option(None, "--endpoint-url"),
        stop_with: int | None = typer.Option(None, "--stop-with", hidden=True),
    ) -> None:
        """Serve the web console until SIGTERM or Ctrl-C."""
        ctx.ensure_object(dict)
        ctx.obj["config"] = config
        console_cmd(
            ctx, host=host, port=port, poll=poll, endpoint_url=endpoint_url, stop_with=stop_with
        )

    return app


def main(argv: list[str]) -> None:
    """Run the console command; a driftloop error exits with its code and one sentence."""
    logs = load_log_settings()
    configure_logging(logs.level or "INFO", logs.format)
    try:
        _app()(args=argv, standalone_mode=False, prog_name="driftloop console")
    except DriftloopError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
