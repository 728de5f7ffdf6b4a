"""``driftloop backend check``: what the configured backend needs, checked before the loop runs."""

from __future__ import annotations

import typer
from rich.table import Table

from driftloop.cli._context import console, settings
from driftloop.errors import CloudError, ConfigError

app = typer.Typer(help="The backend the stores live on.", no_args_is_help=True)


@app.command("check")
def check_cmd(
    ctx: typer.Context,
    enable_versioning: bool = typer.Option(
        False, "--enable-versioning", help="Turn on versioning of the aws bucket when it is off."
    ),
) -> None:
    """Check the backend: the workspace; on aws the region, credentials, bucket, versioning."""
    from driftloop.backends.catalog import check

    cfg = settings(ctx)
    checks = check(cfg, enable_versioning=enable_versioning)
    table = Table("check", "ok", "detail", title=f"backend {cfg.backend.kind}")
    for item in checks:
        table.add_row(item.name, "[green]yes[/]" if item.ok else "[red]no[/]", item.detail)
    console.print(table)
    failed = [item for item in checks if not item.ok]
    if failed:
        error = CloudError if cfg.backend.kind == "aws" else ConfigError
        raise error(f"backend {cfg.backend.kind}: {failed[0].name}: {failed[0].detail}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="backend")
