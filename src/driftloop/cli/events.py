"""``driftloop events list|dead-letters``, ``driftloop rules put|list|delete`` and
``driftloop agent``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from driftloop.cli._context import console, settings
from driftloop.config import Settings, find_config_file
from driftloop.errors import ConfigError

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends
    from driftloop.events.base import RuleStore

events_app = typer.Typer(
    help="The workspace's event log (EventBridge shape).", no_args_is_help=True
)
rules_app = typer.Typer(help="Rules routing events to targets.", no_args_is_help=True)


@events_app.command("list")
def events_list_cmd(
    ctx: typer.Context,
    limit: int = typer.Option(30, "--limit", "-n"),
    source: str | None = typer.Option(None, "--source"),
) -> None:
    """The newest events."""
    corrupt: list[str] = []
    events = _stores(ctx).events.read_events(corrupt)
    found = [e for e in events if source in (None, e.get("source"))]
    table = Table("time", "source", "detail-type", "detail")
    for event in found[-limit:]:
        detail = json.dumps(event.get("detail", {}))
        table.add_row(event["time"], event["source"], event["detail-type"], detail[:120])
    console.print(table)
    if corrupt:
        more = f" (and {len(corrupt) - 10} more)" if len(corrupt) > 10 else ""
        console.print(
            f"{len(corrupt)} item(s) are not events: {'; '.join(corrupt[:10])}{more}; "
            "delivery dead-letters them: driftloop events dead-letters"
        )


@events_app.command("dead-letters")
def events_dead_letters_cmd(
    ctx: typer.Context, limit: int = typer.Option(30, "--limit", "-n")
) -> None:
    """Deliveries that failed every attempt, and event log lines that are not events."""
    table = Table("failed at", "event", "rule", "target", "attempts", "error")
    for row in _stores(ctx).events.dead_letters(limit):
        target = f"{row['target']} ({row['target_type']})" if row["rule"] else "-"
        table.add_row(
            row["failed_at"],
            row["event_id"],
            row["rule"] or "-",
            target,
            str(row["attempts"]),
            row["error"][:200],
        )
    console.print(table)


def _json(text: str, what: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} is not valid JSON: {exc}") from None


@rules_app.command("put")
def rules_put_cmd(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    pattern: str = typer.Option(..., "--event-pattern", help="EventBridge event pattern (JSON)."),
    targets: list[str] = typer.Option(
        ..., "--target", help='e.g. {"type": "notify", "topic": "ops"}'
    ),
) -> None:
    """Create or replace a rule."""
    from driftloop.events.rules import parse_rule

    fields = {
        "name": name,
        "event_pattern": _json(pattern, "--event-pattern"),
        "targets": [_json(t, "--target") for t in targets],
    }
    rule = parse_rule(fields)
    _rules(ctx).put(rule)
    console.print(f"rule {name} stored with {len(rule.targets)} target(s)")


@rules_app.command("list")
def rules_list_cmd(ctx: typer.Context) -> None:
    """Rules, their patterns and targets."""
    table = Table("rule", "enabled", "pattern", "targets")
    for rule in _rules(ctx).list():
        targets = ", ".join(t.type for t in rule.targets)
        table.add_row(rule.name, str(rule.enabled), json.dumps(rule.event_pattern), targets)
    console.print(table)


@rules_app.command("delete")
def rules_delete_cmd(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Delete a rule."""
    _rules(ctx).delete(name)
    console.print(f"deleted rule {name}")


def agent_cmd(
    ctx: typer.Context,
    console_port: int | None = typer.Option(
        None,
        "--console",
        metavar="PORT",
        min=1,
        max=65535,
        help="Also serve the web console on this loopback port while the agent runs.",
    ),
) -> None:
    """Evaluate alarms, run scheduled monitoring and deliver events until SIGTERM or Ctrl-C."""
    from driftloop.agent import Agent

    cfg = settings(ctx)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    web = None if console_port is None else _start_console(ctx, cfg, console_port)
    try:
        Agent(cfg).run(stop)
    finally:
        if web is not None:
            web.terminate()
            web.wait(timeout=30)


def _start_console(ctx: typer.Context, cfg: Settings, port: int) -> subprocess.Popen[bytes]:
    """``python -m driftloop.console`` on ``port`` over the agent's settings, stopping by itself
    if the agent dies without stopping it."""
    env = {**os.environ, "DRIFTLOOP_HOME": str(cfg.workspace.root)}
    config = find_config_file(ctx.find_root().obj.get("config"))
    if config is not None:
        env["DRIFTLOOP_CONFIG"] = str(config.resolve())
    command = [sys.executable, "-m", "driftloop.console", "--port", str(port)]
    command += ["--stop-with", str(os.getpid())]
    console.print(f"console on http://127.0.0.1:{port} (ready once /ping answers 200)")
    return subprocess.Popen(command, env=env)


def register(root: typer.Typer) -> None:
    root.add_typer(events_app, name="events")
    root.add_typer(rules_app, name="rules")
    root.command("agent")(agent_cmd)


def _rules(ctx: typer.Context) -> RuleStore:
    return _stores(ctx).rules


def _stores(ctx: typer.Context) -> Backends:
    from driftloop.backends.catalog import Backends

    return Backends.from_settings(settings(ctx))
