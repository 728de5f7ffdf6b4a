"""``driftloop serve``: run an endpoint, or in a SageMaker container the model in /opt/ml/model."""

from __future__ import annotations

import typer

from driftloop.cli._context import err_console, settings
from driftloop.errors import ConfigError


def serve_cmd(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="Endpoint to serve (see `endpoints create`)."),
    host: str | None = typer.Option(None, "--host", help="Bind address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", "-p", help="Port (default 8080)."),
    workers: int | None = typer.Option(None, "--workers", "-w", help="Worker processes."),
) -> None:
    """Serve an endpoint on uvicorn until SIGTERM; SageMaker's container contract included."""
    from driftloop.serving.server import run, sagemaker_model_dir
    from driftloop.serving.tls import tls_options

    cfg = settings(ctx)
    serving = cfg.serving.model_copy()
    endpoint = name or serving.endpoint
    updates: dict[str, object] = {"endpoint": endpoint}
    if endpoint is None:
        model_dir = serving.model_dir or sagemaker_model_dir()
        if model_dir is None:
            raise ConfigError("name an endpoint to serve (driftloop endpoints list shows them)")
        updates.update(model_dir=model_dir, host=host or "0.0.0.0")
    for key, value in (("host", host), ("port", port), ("workers", workers)):
        if value is not None:
            updates[key] = value
    final = cfg.model_copy(update={"serving": serving.model_copy(update=updates)})
    where = final.serving
    scheme = "https" if tls_options(where) else "http"  # a bad TLS pair stops here
    err_console.print(
        f"serving {endpoint or where.model_dir} on {scheme}://{where.host}:{where.port} "
        f"with {where.workers} worker(s); Ctrl-C or SIGTERM stops it"
    )
    run(final)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
