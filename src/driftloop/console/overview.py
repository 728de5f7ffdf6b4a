"""Overview: per endpoint its health, champion and challenger, traffic and p99 latency
sparklines, open alarms, the last monitoring verdict and the last and running deployment."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from driftloop.console import traffic
from driftloop.console.context import Ctx
from driftloop.console.html import Page, badge, cards, esc, link, note, path_part, section, when
from driftloop.console.svg import sparkline
from driftloop.console.view import DEPLOYMENT_STEP, MONITORING_DONE, attempt
from driftloop.deploy.journal import DeployJournal
from driftloop.registry.base import CHALLENGER, CHAMPION
from driftloop.serving.endpoint_config import EndpointConfig

FRESH = (
    "This workspace has no endpoint yet. Train a model (driftloop train), create an endpoint "
    "(driftloop endpoints create churn) and serve it (driftloop serve churn); this page fills "
    "in as the loop runs."
)


def render(ctx: Ctx) -> Page:
    configs, problem = attempt("the endpoint configs", ctx.view.stores.endpoints.list)
    parts = ["<h1>Overview</h1>"]
    if problem:
        parts.append(note(problem, "bad"))
    elif not configs:
        parts.append(note(FRESH))
        parts.append(_models_only(ctx))
    for config in configs or []:
        body, trouble = attempt(f"endpoint {config.name}", partial(_endpoint, ctx, config))
        parts.append(body if body is not None else section(config.name, note(trouble or "", "bad")))
    return Page("Overview", "".join(parts))


def _models_only(ctx: Ctx) -> str:
    versions, problem = attempt(
        "the registry", lambda: ctx.view.stores.registry.list_versions(ctx.view.model_name)
    )
    if problem:
        return note(problem, "bad")
    if not versions:
        return ""
    newest = versions[-1]
    return section(
        "Models",
        f"<p>{esc(ctx.view.model_name)} has {len(versions)} version(s), the newest "
        f"v{newest.version} ({badge(newest.approval)}). {link('/models', 'See the models')}</p>",
    )


def _endpoint(ctx: Ctx, config: EndpointConfig) -> str:
    view = ctx.view
    registry = view.stores.registry
    champion = registry.get_by_alias(config.model_name, CHAMPION)
    challenger = registry.get_by_alias(config.model_name, CHALLENGER)
    window = traffic.Window.of("1h")
    names = traffic.variants(view, config.name)
    per_minute = traffic.series(view, config.name, names, "Invocations", "Sum", window)
    p99 = traffic.series(view, config.name, names, "ModelLatency", "p99", window, 1e-3)
    total = sum(v or 0 for _, v in per_minute)
    items = [
        ("health", _health(ctx, config.name, names)),
        ("champion", f"v{champion.version}" if champion else "none"),
        ("challenger", f"v{challenger.version}" if challenger else "none"),
        (
            "requests, last hour",
            f"{total:,.0f} " + sparkline([v for _, v in per_minute], label="requests per period"),
        ),
        ("p99 latency (ms)", sparkline([v for _, v in p99], label="p99 latency ms")),
        ("open alarms", _open_alarms(ctx, config.name)),
        ("last monitoring", _last_monitoring(ctx, config.name)),
        ("deployment", _deployment(ctx, config.name)),
    ]
    href = f"/endpoints/{path_part(config.name)}"
    title = (
        f'<h2>{link(href, config.name)} <span class="muted">revision {config.revision}, '
        f"model {esc(config.model_name)}</span></h2>"
    )
    ident = f'class="endpoint" data-endpoint="{esc(config.name)}"'
    return f"<section {ident}>{title}{cards(items)}</section>"


def _health(ctx: Ctx, endpoint: str, names: list[str]) -> str:
    newest = traffic.last_traffic(ctx.view, endpoint, names)
    if newest is None:
        seen = "no traffic yet"
    else:
        ago = max(time.time() - newest, 0)
        seen = f"last request {ago:.0f} s ago" if ago < 3600 else f"last request {when(newest)}"
    if ctx.endpoint_url:
        up, said = traffic.ping(ctx.endpoint_url)
        state = badge("up" if up else "down")
        return f'{state} <span class="muted" title="{esc(said)}">{esc(seen)}</span>'
    recent = newest is not None and time.time() - newest < 300
    return (
        f"{badge('serving' if recent else 'idle', 'good' if recent else 'muted')} "
        f'<span class="muted">{esc(seen)}</span>'
    )


def _open_alarms(ctx: Ctx, endpoint: str) -> str:
    store = ctx.view.stores.alarms
    names = [a.alarm_name for a in store.list() if endpoint in a.dimensions.values()]
    firing = [n for n in names if store.get(n).state == "ALARM"]
    if not names:
        return '<span class="muted">no alarms</span>'
    if not firing:
        return f'{badge("OK")} <span class="muted">{len(names)} alarm(s)</span>'
    return " ".join(badge(n, "bad") for n in firing)


def _last_monitoring(ctx: Ctx, endpoint: str) -> str:
    run = ctx.view.events().last(MONITORING_DONE, endpoint)
    if run is None:
        return '<span class="muted">no run yet</span>'
    detail: dict[str, Any] = run["detail"]
    drifted = ", ".join(detail.get("drifted_columns") or [])
    extra = f" drift: {esc(drifted)}" if drifted else ""
    return (
        f'{badge(detail.get("status", "?"))} <span class="muted">{when(run.get("time"))}'
        f"{extra}</span>"
    )


def _deployment(ctx: Ctx, endpoint: str) -> str:
    running = None
    if ctx.view.settings.backend.kind == "local":
        running = DeployJournal(ctx.view.settings.workspace).get(endpoint)
    step = ctx.view.events().last(DEPLOYMENT_STEP, endpoint)
    parts = []
    if running is not None:
        parts.append(f"{badge('running', 'busy')} v{running.version} since {when(running.started)}")
    if step is not None:
        last: dict[str, Any] = step["detail"]
        parts.append(
            f"{badge(last.get('step', '?'))} v{esc(last.get('version'))} "
            f'<span class="muted">{when(step.get("time"))}</span>'
        )
    return "<br>".join(parts) or '<span class="muted">none yet</span>'
