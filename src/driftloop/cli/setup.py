"""``driftloop init``: write a commented config file."""

from __future__ import annotations

from pathlib import Path

import typer

from driftloop import config_file
from driftloop.cli._context import console
from driftloop.config import CONFIG_FILE


def init(
    path: Path = typer.Option(Path(CONFIG_FILE), "--path", help="Where to write the config."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented driftloop.toml holding every setting and its default."""
    written = config_file.write(path, force=force)
    console.print(f"wrote {written}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
