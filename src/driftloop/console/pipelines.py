"""Pipelines and deployments: pipeline runs with step status and cache hits; deployments with
their steps and roll-backs (from the "Deployment Step" events)."""

from __future__ import annotations

from typing import Any

from driftloop.console.context import Ctx
from driftloop.console.html import Page, badge, esc, note, path_part, section, table, when
from driftloop.console.view import DEPLOYMENT_STEP, EventSnapshot, attempt
from driftloop.pipelines.store import PipelineStore, orphaned

LISTED = 30
SETTLED = ("completed", "rolled_back", "shadow-removed")


def render(ctx: Ctx) -> Page:
    runs, problem = attempt("the pipeline runs", lambda: _runs(ctx))
    parts = [
        "<h1>Pipelines and deployments</h1>",
        section("Deployments", _deployments(ctx)),
        section("Pipeline runs", runs if runs is not None else note(problem or "", "bad")),
    ]
    return Page("Pipelines and deployments", "".join(parts))


def _runs(ctx: Ctx) -> str:
    ws = ctx.view.settings.workspace
    if not ws.pipelines_db.is_file():  # never create a database just by looking
        return note("No pipeline run yet: driftloop pipeline run --input DATA.csv.")
    store = PipelineStore(ws)
    rows = []
    for run in store.list_runs(LISTED):
        steps = store.steps(run.run_id)
        chain = " ".join(
            badge(f"{s.step}{' (cached)' if s.cached_from else ''}", _tone(s.status)) for s in steps
        )
        status = "Executing (orphaned)" if orphaned(run) else run.status
        error = (
            f'<br><span class="muted">{esc(run.failed_step)}: {esc(run.error)}</span>'
            if run.error
            else ""
        )
        hits = sum(1 for s in steps if s.cached_from)
        rows.append(
            [
                f'<span id="{esc(path_part(run.run_id))}">{esc(run.run_id)}</span>',
                esc(run.pipeline),
                badge(status, "bad" if "orphaned" in status else None),
                chain + error,
                f"{hits}/{len(steps)}",
                when(run.started),
            ]
        )
    return table(
        ["run", "pipeline", "status", "steps", "cache hits", "started"],
        rows,
        empty="No pipeline run yet.",
    )


def _tone(status: str) -> str:
    return {"Succeeded": "good", "Failed": "bad", "Executing": "busy"}.get(status, "muted")


def deployments(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Deployment steps grouped per deployment: one endpoint and version until it settles."""
    open_: dict[tuple[str, str], list[dict[str, Any]]] = {}
    done: list[list[dict[str, Any]]] = []
    for event in events:
        d = event.get("detail") or {}
        key = (str(d.get("endpoint")), str(d.get("version")))
        open_.setdefault(key, []).append(event)
        if d.get("step") in SETTLED:
            done.append(open_.pop(key))
    done.extend(open_.values())
    return sorted(done, key=lambda group: str(group[0].get("time")), reverse=True)


def _newest_deployments(snapshot: EventSnapshot) -> list[list[dict[str, Any]]]:
    return deployments(snapshot.of_type(DEPLOYMENT_STEP))[:LISTED]


def _deployments(ctx: Ctx) -> str:
    groups = ctx.view.events().derived("deployments", [DEPLOYMENT_STEP], _newest_deployments)
    rows = []
    for group in groups:
        first, last = group[0].get("detail") or {}, group[-1].get("detail") or {}
        step = str(last.get("step"))
        outcome = step if step in SETTLED else "running"
        chain = " &rarr; ".join(
            badge(
                str((e.get("detail") or {}).get("step")),
                "bad" if (e.get("detail") or {}).get("step") == "rolled_back" else "plain",
            )
            for e in group
        )
        reason = last.get("reason")
        rows.append(
            [
                when(group[0].get("time")),
                esc(first.get("endpoint")),
                f"v{esc(first.get('version'))}",
                esc(first.get("strategy", "-")),
                chain + (f'<br><span class="muted">{esc(reason)}</span>' if reason else ""),
                badge(outcome, "busy" if outcome == "running" else None),
            ]
        )
    return table(
        ["started", "endpoint", "version", "strategy", "steps", "outcome"],
        rows,
        empty="No deployment yet: driftloop deploy --endpoint NAME --model VERSION.",
    )
