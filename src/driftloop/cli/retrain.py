"""``driftloop retrain``: apply the retraining policy to one endpoint now."""

from __future__ import annotations

import typer
from rich.table import Table

from driftloop.cli._context import console, settings
from driftloop.retraining.retrain import RetrainOutcome, retrain, roll_out

_SHOWN = ("roc_auc", "pr_auc", "f1", "accuracy", "log_loss", "brier")


def retrain_cmd(
    ctx: typer.Context,
    endpoint: str = typer.Option(..., "--endpoint", "-e", help="Endpoint whose model to retrain."),
    force: bool = typer.Option(False, "--force", help="Ignore the cooldown and the daily cap."),
    deploy: bool | None = typer.Option(
        None,
        "--deploy/--no-deploy",
        help="Roll a passing challenger out with the deploy guardrails (default: retrain.deploy).",
    ),
) -> None:
    """Retrain on the original training data plus labelled captured traffic; the gate decides
    on the most recent labelled traffic."""
    from driftloop.cli.deploy import show_step
    from driftloop.deploy.guarded import DeploymentRolledBack

    cfg = settings(ctx)
    outcome = retrain(cfg, endpoint, force=force)
    show_retrain(outcome)
    if not (cfg.retrain.deploy if deploy is None else deploy):
        return
    result = roll_out(cfg, endpoint, outcome, on_step=show_step)
    if result is None:
        console.print("nothing to deploy: no passing, Approved challenger")
    elif result.status == "rolled_back":
        raise DeploymentRolledBack(f"roll-out of v{result.version} rolled back: {result.reason}")
    else:
        console.print(f"[green]{result.status}[/]: {result.reason}", highlight=False)


def show_retrain(outcome: RetrainOutcome) -> None:
    """Print the decision and, after a retrain, champion vs challenger on the recent data."""
    colour = "green" if outcome.status == "retrained" else "yellow"
    console.print(
        f"[{colour}]{outcome.status}[/]: {outcome.reason} "
        f"({outcome.labelled_rows} labelled captured rows new to the champion)"
    )
    if outcome.status != "retrained":
        return
    console.print(
        f"trained on {outcome.training_rows} rows ({outcome.captured_in_training} captured); "
        f"compared on the {outcome.recent_rows} most recent labelled rows"
    )
    table = Table("model", *_SHOWN, title="Recent labelled data")
    for name, metrics in (
        ("champion", outcome.champion_metrics),
        (f"challenger v{outcome.version}", outcome.challenger_metrics),
    ):
        table.add_row(name, *(f"{metrics[m]:.4f}" if m in metrics else "-" for m in _SHOWN))
    console.print(table)
    console.print(f"approval: {outcome.approval}; pipeline run {outcome.pipeline_run}")


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain_cmd)
