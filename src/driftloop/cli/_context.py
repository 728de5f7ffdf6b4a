"""Shared CLI plumbing: the console, settings loading and progress."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from driftloop.config import Settings, load_settings

console = Console()
err_console = Console(stderr=True)


def settings(ctx: typer.Context) -> Settings:
    """Settings for this invocation, loaded once from ``--config``, the file and the env."""
    root = ctx.find_root()
    root.ensure_object(dict)
    if "settings" not in root.obj:
        config: Path | None = root.obj.get("config")
        root.obj["settings"] = load_settings(config)
    loaded: Settings = root.obj["settings"]
    return loaded


@contextmanager
def progress(description: str) -> Iterator[Callable[[str], None]]:
    """A Rich spinner whose text the yielded callable updates."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(description)

        def say(message: str) -> None:
            bar.update(task, description=message)
            bar.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {message}", highlight=False)

        yield say
