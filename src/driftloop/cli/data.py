"""``driftloop data generate|scenarios`` and ``driftloop preprocess``."""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.table import Table

from driftloop.backends.catalog import Backends
from driftloop.cli._context import console, settings
from driftloop.config import Settings
from driftloop.data.generator import SCENARIOS, generate
from driftloop.data.preprocess import MANIFEST, preprocess
from driftloop.errors import ConfigError
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
    upload: bool = typer.Option(
        False, "--upload", help="Then put the files on S3 under <prefix>/prepared/."
    ),
    s3_bucket: str | None = typer.Option(None, "--s3-bucket", help="Bucket (default aws.bucket)."),
    s3_prefix: str | None = typer.Option(None, "--s3-prefix", help="Prefix (default aws.prefix)."),
) -> None:
    """Fix dtypes, drop ids, split stratified into train.csv and val.csv, snapshot both;
    ``--upload`` puts the three files on S3 (through the aws backend, whatever backend.kind)."""
    cfg = settings(ctx)
    target = upload_settings(cfg, s3_bucket, s3_prefix) if upload else None
    if target is None and (s3_bucket or s3_prefix):
        raise ConfigError("--s3-bucket and --s3-prefix need --upload")
    folder = output_dir or cfg.workspace.prepared
    prepared = preprocess(input_csv, folder, cfg.data, Backends.from_settings(cfg).snapshots)
    table = Table("file", "rows", "snapshot")
    table.add_row(str(prepared.train_csv), str(prepared.train.rows), prepared.train.uri)
    table.add_row(str(prepared.val_csv), str(prepared.val.rows), prepared.val.uri)
    console.print(table)
    if target is not None:
        files = [prepared.train_csv, prepared.val_csv, folder / MANIFEST]
        for uri in Backends.from_settings(target).training.upload(files, "prepared"):
            console.print(f"uploaded {uri}", highlight=False, soft_wrap=True)


def upload_settings(cfg: Settings, bucket: str | None, prefix: str | None) -> Settings:
    """``cfg`` on the aws backend with ``bucket`` and ``prefix`` when given; one sentence
    when no bucket is named or the name is not one S3 allows."""
    overrides = {k: v for k, v in (("bucket", bucket), ("prefix", prefix)) if v is not None}
    try:
        aws = type(cfg.aws).model_validate({**cfg.aws.model_dump(), **overrides})
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise ConfigError(f"--s3-{problem['loc'][0]} is not valid: {problem['msg']}") from None
    if aws.bucket is None:
        raise ConfigError("--upload needs --s3-bucket (or aws.bucket in the config)")
    backend = cfg.backend.model_copy(update={"kind": "aws"})
    return cfg.model_copy(update={"aws": aws, "backend": backend})


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")
    root.command("preprocess")(preprocess_cmd)
