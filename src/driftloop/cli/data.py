"""``driftloop data generate|scenarios`` and ``driftloop preprocess``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from driftloop.backends.catalog import Backends
from driftloop.cli._context import console, settings
from driftloop.data.generator import SCENARIOS, generate
from driftloop.data.preprocess import preprocess
from driftloop.workspace import atomic_path

app = typer.Typer(help="Generate data.", no_args_is_help=True)


@app.command("generate")
def generate_cmd(
    ctx: typer.Context,
    rows: int = typer.Option(5000, "--rows", "-n", help="Rows to generate."),
    seed: int = typer.Option(0, "--seed", "-s", help="Random seed."),
    scenario: str = typer.Option("none", "--scenario", help="Drift scenario (see `scenarios`)."),
    strength: float = typer.Option(1.0, "--strength", help="Scenario strength (0 = none)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="CSV to write (default: <workspace>/data/generated.csv)."
    ),
) -> None:
    """Write Telco-schema data from driftloop's own generator."""
    target = output or settings(ctx).workspace.data / "generated.csv"
    frame = generate(rows, seed, scenario=scenario, strength=strength)
    with atomic_path(target) as tmp:
        frame.to_csv(tmp, index=False)
    console.print(f"wrote {len(frame)} rows ({scenario}, strength {strength:g}) to {target}")


@app.command("scenarios")
def scenarios_cmd() -> None:
    """List the drift scenarios the generator knows."""
    table = Table("scenario", "what changes")
    for name, description in SCENARIOS.items():
        table.add_row(name, description)
    console.print(table)


def preprocess_cmd(
    ctx: typer.Context,
    input_csv: Path = typer.Option(..., "--input-csv", "-i", help="Raw CSV to preprocess."),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", "-o", help="Folder for train.csv/val.csv (default: workspace)."
    ),
) -> None:
    """Fix dtypes, drop ids, split stratified into train.csv and val.csv, snapshot both."""
    cfg = settings(ctx)
    folder = output_dir or cfg.workspace.prepared
    prepared = preprocess(input_csv, folder, cfg.data, Backends.from_settings(cfg).snapshots)
    table = Table("file", "rows", "snapshot")
    table.add_row(str(prepared.train_csv), str(prepared.train.rows), prepared.train.uri)
    table.add_row(str(prepared.val_csv), str(prepared.val.rows), prepared.val.uri)
    console.print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")
    root.command("preprocess")(preprocess_cmd)
