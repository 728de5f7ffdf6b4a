"""``driftloop baseline`` and ``driftloop validate``: Deequ-style checks in Model Monitor files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from driftloop.cli._context import console, settings
from driftloop.data.dataset import spec_from_settings
from driftloop.data.readers import read_table
from driftloop.data.snapshot import content_digest
from driftloop.errors import ViolationsFound
from driftloop.validation import load_constraints, verify, write_baseline
from driftloop.workspace import atomic_write_text


def baseline_cmd(
    ctx: typer.Context,
    data: Path = typer.Argument(..., help="CSV or Parquet file to baseline."),
    output_dir: Path | None = typer.Option(
        None, "--output-dir", "-o", help="Folder for the files (default: workspace baselines)."
    ),
) -> None:
    """Write statistics.json and constraints.json (SageMaker Model Monitor shapes)."""
    cfg = settings(ctx)
    raw = read_table(data)
    spec = spec_from_settings(raw, cfg.data)
    folder = output_dir or cfg.workspace.baselines / content_digest(raw)
    baseline = write_baseline(raw, spec, folder)
    console.print(f"statistics:  {baseline.statistics_path}")
    console.print(f"constraints: {baseline.constraints_path}")


def validate_cmd(
    ctx: typer.Context,
    data: Path = typer.Argument(..., help="CSV or Parquet file to check."),
    baseline: Path = typer.Option(
        ..., "--baseline", "-b", help="Baseline folder or its constraints.json."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Where to write constraint_violations.json."
    ),
) -> None:
    """Check data against a baseline; exit 0 when clean, 5 on violations."""
    cfg = settings(ctx)
    constraints_path = baseline / "constraints.json" if baseline.is_dir() else baseline
    constraints = load_constraints(constraints_path)
    result = verify(read_table(data), constraints)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = output or cfg.workspace.reports / "validation" / f"{data.stem}-{stamp}.json"
    atomic_write_text(target, json.dumps(result, indent=2))
    violations = result["violations"]
    if not violations:
        console.print(f"[green]no violations[/] in {data} (report: {target})")
        return
    table = Table("feature", "check", "description", title=f"{len(violations)} violation(s)")
    for item in violations:
        table.add_row(item["feature_name"], item["constraint_check_type"], item["description"])
    console.print(table)
    raise ViolationsFound(f"{data} breaks {len(violations)} constraint(s); report: {target}")


def register(app: typer.Typer) -> None:
    app.command("baseline")(baseline_cmd)
    app.command("validate")(validate_cmd)
