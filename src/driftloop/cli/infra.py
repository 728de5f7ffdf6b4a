"""``driftloop infra render``: the CloudFormation template and the Terraform module of the
project's AWS resources, from the loaded settings."""

from __future__ import annotations

from pathlib import Path

import typer

from driftloop.cli._context import console, err_console, settings
from driftloop.infra.policy import POLICY_FILE, read_role_policy

app = typer.Typer(help="Infrastructure as code of the aws backend.", no_args_is_help=True)


@app.command("render")
def render_cmd(
    ctx: typer.Context,
    output: Path = typer.Option(
        Path("infra"),
        "--output",
        "-o",
        help="Folder to write cloudformation.yaml and terraform/ to.",
    ),
    policy: Path = typer.Option(
        POLICY_FILE,
        "--policy",
        help="IAM policy document of the SageMaker execution role.",
    ),
) -> None:
    """Write the CloudFormation template and the Terraform module of the config's AWS resources.

    cloudformation.yaml and terraform/ (main.tf, variables.tf, outputs.tf) declare the bucket,
    the SageMaker execution role, the topics, the retrain queue, the rules, the alarms and a
    dashboard per endpoint, named as the config names them."""
    from driftloop.infra.render import render, write

    rendered = render(settings(ctx), read_role_policy(policy))
    for path in write(rendered, output):
        console.print(f"wrote {path}", highlight=False)
    for note in rendered.notes:
        err_console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="infra")
