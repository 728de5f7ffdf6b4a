"""``driftloop models list|show|promote|approve|reject`` over the registry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.table import Table

from driftloop.backends.catalog import Backends
from driftloop.cli._context import console, settings
from driftloop.errors import ModelNotFound
from driftloop.registry import ModelVersion
from driftloop.registry.base import GATE_REPORT_TAG, ModelRegistry
from driftloop.registry.lifecycle import approve, promote, reject

app = typer.Typer(help="Registered model versions, aliases and approval.", no_args_is_help=True)

_VERSION = typer.Argument(..., help="Version number, or an alias such as 'champion'.")


def _registry(ctx: typer.Context) -> tuple[ModelRegistry, str]:
    cfg = settings(ctx)
    return Backends.from_settings(cfg).registry, cfg.registry.model_name


def _resolve(registry: ModelRegistry, name: str, ref: str) -> int:
    if ref.isdigit():
        return int(ref)
    found = registry.get_by_alias(name, ref)
    if found is None:
        raise ModelNotFound(f"model '{name}' has no alias '{ref}'")
    return found.version


@app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """List the versions of the registered model."""
    registry, name = _registry(ctx)
    versions = registry.list_versions(name)
    if not versions:
        console.print(f"model '{name}' has no versions yet (run `driftloop train`)")
        return
    table = Table("version", "candidate", "roc_auc", "gate", "approval", "aliases", "created")
    for v in versions:
        table.add_row(
            str(v.version),
            v.tags.get("candidate", "-"),
            v.tags.get("metric.roc_auc", "-"),
            v.gate_status,
            v.approval,
            ", ".join(v.aliases) or "-",
            _when(v),
        )
    console.print(table)


@app.command("show")
def show_cmd(ctx: typer.Context, ref: str = _VERSION) -> None:
    """Show one version: tags, gate report, aliases."""
    registry, name = _registry(ctx)
    version = registry.get_version(name, _resolve(registry, name, ref))
    console.print(
        f"[bold]{name} v{version.version}[/]  aliases: {', '.join(version.aliases) or '-'}"
    )
    console.print(f"run: {version.run_id}  source: {version.source}  created: {_when(version)}")
    table = Table("tag", "value")
    for key, value in sorted(version.tags.items()):
        if key != GATE_REPORT_TAG:
            table.add_row(key, value)
    console.print(table)
    report = version.tags.get(GATE_REPORT_TAG)
    if report:
        for check in json.loads(report)["checks"]:
            mark = "[green]ok[/]" if check["passed"] else "[red]x[/]"
            console.print(f"  {mark} {check['name']}: {check['detail']}")


@app.command("promote")
def promote_cmd(ctx: typer.Context, ref: str = _VERSION) -> None:
    """Make an Approved version the champion (also rolls back to an older one)."""
    registry, name = _registry(ctx)
    version = promote(registry, name, _resolve(registry, name, ref))
    _said("champion", version)


@app.command("approve")
def approve_cmd(
    ctx: typer.Context,
    ref: str = _VERSION,
    force: bool = typer.Option(False, "--force", help="Approve even if the gate failed."),
) -> None:
    """Approve a version (PendingManualApproval -> Approved) and make it champion."""
    registry, name = _registry(ctx)
    number = _resolve(registry, name, ref)
    version = approve(registry, name, number, force=force)
    _said("approved and champion", version)


@app.command("reject")
def reject_cmd(ctx: typer.Context, ref: str = _VERSION) -> None:
    """Reject a version; it can no longer become champion."""
    registry, name = _registry(ctx)
    version = reject(registry, name, _resolve(registry, name, ref))
    _said("rejected", version)


def _said(what: str, version: ModelVersion) -> None:
    console.print(
        f"{version.name} v{version.version} {what}: approval {version.approval}, "
        f"aliases {', '.join(version.aliases) or '-'}"
    )


def _when(version: ModelVersion) -> str:
    return datetime.fromtimestamp(version.created_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
