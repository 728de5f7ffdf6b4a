"""``driftloop deploy``: move an endpoint to a model version in guarded steps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer

from driftloop.cli._context import console, settings


def _seconds(text: str) -> float:
    from driftloop.durations import parse_at_least

    return parse_at_least(text, timedelta(seconds=1)).total_seconds()


def show_step(step: dict[str, Any]) -> None:
    """Print one deployment step: its traffic weights, shadow and roll-back reason."""
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
    strategy: str | None = typer.Option(
        None, "--strategy", help="all-at-once, canary, linear or shadow (default from config)."
    ),
    canary_percent: float | None = typer.Option(None, "--canary-percent", help="Canary traffic %."),
    step: float | None = typer.Option(None, "--step", help="Linear: traffic % moved per step."),
    interval: str | None = typer.Option(None, "--interval", help="Linear: time between steps."),
    bake: str | None = typer.Option(None, "--bake", help="How long each full step bakes."),
    alarm: list[str] | None = typer.Option(None, "--alarm", help="Alarm to watch (repeatable)."),
    poll: str | None = typer.Option(None, "--poll", help="How often the alarms are checked."),
    no_promote: bool = typer.Option(False, "--no-promote", help="Leave the champion alias."),
    topic: str | None = typer.Option(None, "--topic", help="Notification topic for each step."),
) -> None:
    """Deploy a model version with guardrails; a watched alarm in ALARM rolls it back (exit 9).

    Options left out come from the deploy section of the config."""
    from driftloop.deploy.guarded import DeploymentRolledBack, DeployPlan, check_strategy, deploy

    cfg = settings(ctx)
    given = {
        "strategy": check_strategy(strategy) if strategy is not None else None,
        "canary_percent": canary_percent,
        "linear_step_percent": step,
        "interval_s": _seconds(interval) if interval is not None else None,
        "bake_s": _seconds(bake) if bake is not None else None,
        "alarms": list(alarm) if alarm else None,
        "poll_s": _seconds(poll) if poll is not None else None,
        "topic": topic,
    }
    overrides = {key: value for key, value in given.items() if value is not None}
    plan = DeployPlan.from_settings(
        cfg.deploy, endpoint, model, promote=not no_promote, **overrides
    )
    result = deploy(cfg, plan, on_step=show_step)
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
