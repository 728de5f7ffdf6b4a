"""``driftloop console``: the web console over the workspace's stores."""

from __future__ import annotations

import typer

from driftloop.cli._context import err_console, settings


def console_cmd(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Bind address; beyond loopback serving.api_key is required."
    ),
    port: int = typer.Option(8090, "--port", "-p", help="Port."),
    poll: float = typer.Option(3.0, "--poll", help="Seconds between a page's live updates."),
    endpoint_url: str | None = typer.Option(
        None,
        "--endpoint-url",
        help="Where the endpoint answers /ping, for its health (default on the local backend: "
        "serving.host and serving.port).",
    ),
    stop_with: int | None = typer.Option(
        None, "--stop-with", hidden=True, help="Stop when process PID ends (the demo's endpoint)."
    ),
) -> None:
    """Serve the web console (overview, endpoint, models, monitoring, alarms and events,
    pipelines and deployments), live, until SIGTERM or Ctrl-C. /ping answers 503 while the
    console warms its first pages at start, then 200: wait for it before sending people."""
    from driftloop.console.server import run_console

    cfg = settings(ctx)
    if endpoint_url is None and cfg.backend.kind == "local":
        endpoint_url = f"http://{cfg.serving.host}:{cfg.serving.port}"
    err_console.print(f"console on http://{host}:{port}; Ctrl-C or SIGTERM stops it")
    run_console(
        cfg,
        host=host,
        port=port,
        poll_s=max(poll, 0.5),
        endpoint_url=endpoint_url,
        stop_with=stop_with,
    )


def register(app: typer.Typer) -> None:
    app.command("console")(console_cmd)
