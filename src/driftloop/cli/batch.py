"""``driftloop batch-transform``: score a large file with an endpoint's model, in chunks."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from driftloop.backends.catalog import Backends
from driftloop.cli._context import console, err_console, settings
from driftloop.errors import NotFoundError
from driftloop.serving.batch import batch_transform
from driftloop.serving.models import load_registered, resolve_version


def batch_cmd(
    ctx: typer.Context,
    endpoint_config: str = typer.Option(
        ..., "--endpoint-config", help="Endpoint whose model scores."
    ),
    input_path: Path = typer.Option(..., "--input", "-i", help="CSV or JSON Lines file."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write one line per record."),
    variant: str | None = typer.Option(None, "--variant", help="Variant (default: heaviest)."),
    chunk_rows: int = typer.Option(10_000, "--chunk-rows", min=1, help="Rows per chunk."),
) -> None:
    """Score a line-split file in chunks (memory stays flat); output lines follow input lines."""
    cfg = settings(ctx)
    config = Backends.from_settings(cfg).endpoints.get(endpoint_config)
    chosen = max(config.variants, key=lambda v: v.weight)
    if variant is not None:
        named = next((v for v in config.variants if v.name == variant), None)
        if named is None:
            raise NotFoundError(f"endpoint '{endpoint_config}' has no variant '{variant}'")
        chosen = named
    registry = Backends.from_settings(cfg).registry
    version = resolve_version(registry, config.model_name, chosen.model)
    model = load_registered(registry, config.model_name, version)
    columns = (
        *Progress.get_default_columns()[:1],
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(
            f"scoring with {chosen.name} (v{version})",
            total=input_path.stat().st_size if input_path.is_file() else None,
        )
        result = batch_transform(
            model,
            input_path,
            output,
            chunk_rows=chunk_rows,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    console.print(
        f"scored {result.rows} records with {config.model_name} v{version} -> {result.output}"
    )


def register(app: typer.Typer) -> None:
    app.command("batch-transform")(batch_cmd)
