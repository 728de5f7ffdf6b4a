"""``driftloop deploy``: move an endpoint to a model version in guarded steps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer

from driftloop.cli._context import console, settings


def _seconds(text: str) -> float:
    from driftloop.monitoring.schedule import parse_interval

    return parse_interval(text, minimum=timedelta(seconds=1)).total_seconds()


def _show(step: dict[str, Any]) -> None:
    weights = ", ".join(
        f"{name}=v{step['models'][name]}:{weight:.0%}" for name, weight in step["weights"].items()
    )
    shadow = f", shadow {step['shadow']}" if step.get("shadow") else ""
    console.print(
        f"[bold]{step['step']}[/] r{step['revision']}: {weights}{shadow}"
        + (f" [red]({step['reason']})[/]" if step.get("reason") else ""),
        highlight=False,
    )


def deploy_cmd(
    ctx: typer.Context,
    endpoint: str = typer.Option(..., "--endpoint", "-e", help="Endpoint to deploy to."),
    model: str = typer.Option(..., "--model", "-m", help="Version number or alias."),
    strategy: str = typer.Option(
        "canary", "--strategy", help="all-at-once, canary, linear or shadow."
    ),
    canary_percent: float = typer.Option(10.0, "--canary-percent", help="Canary traffic %."),
    step: float = typer.Option(25.0, "--step", help="Linear: traffic % moved per step."),
    interval: str = typer.Option("1m", "--interval", help="Linear: time between steps."),
    bake: str = typer.Option("5m", "--bake", help="How long each full step bakes."),
    alarm: list[str] | None = typer.Option(None, "--alarm", help="Alarm to watch (repeatable)."),
    poll: str = typer.Option("5s", "--poll", help="How often the alarms are checked."),
    no_promote: bool = typer.Option(False, "--no-promote", help="Leave the champion alias."),
    topic: str | None = typer.Option(None, "--topic", help="Notification topic for each step."),
) -> None:
    """Deploy a model version with guardrails; a watched alarm in ALARM rolls it back (exit 9)."""
    from driftloop.loop.deploy import DeploymentRolledBack, DeployPlan, check_strategy, deploy

    plan = DeployPlan(
        endpoint=endpoint,
        model=model,
        strategy=check_strategy(strategy),
        canary_percent=canary_percent,
        linear_step_percent=step,
        interval_s=_seconds(interval),
        bake_s=_seconds(bake),
        alarms=list(alarm or []),
        poll_s=_seconds(poll),
        promote=not no_promote,
        topic=topic,
    )
    result = deploy(settings(ctx), plan, on_step=_show)
    if result.report is not None:
        for key, value in result.report.items():
            console.print(f"  {key}: {value}", highlight=False)
    if result.status == "rolled_back":
        raise DeploymentRolledBack(
            f"deployment of v{result.version} to {endpoint} rolled back: {result.reason}",
            details={"revision": result.final_config.revision},
        )
    console.print(f"[green]{result.status}[/]: {result.reason}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_cmd)
