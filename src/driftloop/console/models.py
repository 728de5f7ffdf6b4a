"""Models: versions with metrics, gate report, approval status and lineage (data snapshot ->
pipeline run -> version); approve and reject buttons that do what ``driftloop models
approve|reject`` does, through the same functions."""

from __future__ import annotations

import json
from typing import Any

from driftloop.console.context import Ctx
from driftloop.console.html import (
    Page,
    badge,
    esc,
    link,
    note,
    path_part,
    section,
    table,
    when,
)
from driftloop.console.view import LoopView, attempt
from driftloop.errors import ModelNotFound
from driftloop.registry.base import (
    APPROVED,
    BASE_SNAPSHOT_TAG,
    CHAMPION,
    GATE_REPORT_TAG,
    REJECTED,
    ModelVersion,
)
from driftloop.registry.lifecycle import approve, reject

METRICS = ("roc_auc", "pr_auc", "f1", "precision", "recall", "accuracy", "log_loss", "brier")
ACTIONS = {"approve", "reject"}


def render(ctx: Ctx) -> Page:
    name = ctx.view.model_name
    versions, problem = attempt(
        "the registry", lambda: ctx.view.stores.registry.list_versions(name)
    )
    parts = [f'<h1>Models <span class="muted">{esc(name)}</span></h1>', _flash(ctx)]
    if problem:
        parts.append(note(problem, "bad"))
    elif not versions:
        parts.append(
            note(f"Model '{name}' has no versions yet: driftloop train registers the first one.")
        )
    else:
        rows = [_row(v) for v in reversed(versions)]
        headers = ["version", "candidate", "roc_auc", "gate", "approval", "aliases", "created", ""]
        parts.append(section("Versions", table(headers, rows)))
    return Page("Models", "".join(parts))


def _flash(ctx: Ctx) -> str:
    done, failed = ctx.arg("done"), ctx.arg("failed")
    if failed:
        return note(failed, "bad")
    return note(done, "good") if done else ""


def _row(v: ModelVersion) -> list[str]:
    href = f"/models/{v.version}"
    return [
        link(href, f"v{v.version}"),
        esc(v.tags.get("candidate", "-")),
        esc(v.tags.get("metric.roc_auc", "-"))[:6],
        badge(v.gate_status),
        badge(v.approval),
        esc(", ".join(v.aliases) or "-"),
        esc(when(v.created_ms / 1000)),
        buttons(v),
    ]


def buttons(v: ModelVersion) -> str:
    """Approve and reject forms, each asking for a confirmation before it posts."""
    out = []
    if v.approval != APPROVED or CHAMPION not in v.aliases:
        out.append(_form(v, "approve", f"Approve v{v.version} of {v.name} and make it champion?"))
    if v.approval != REJECTED and CHAMPION not in v.aliases:
        out.append(
            _form(
                v, "reject", f"Reject v{v.version} of {v.name}? It can no longer become champion."
            )
        )
    return " ".join(out)


def _form(v: ModelVersion, action: str, question: str) -> str:
    return (
        f'<form class="inline" method="post" action="/models/{v.version}/{action}" '
        f'data-confirm="{esc(question)}"><input type="hidden" name="confirm" value="">'
        f'<button type="submit" class="{action}" id="{action}-{v.version}">{action}</button></form>'
    )


def confirm_page(view: LoopView, version: int, action: str) -> Page:
    """Asked when a form arrives unconfirmed (a browser without script)."""
    found = view.stores.registry.get_version(view.model_name, version)
    form = (
        f'<form method="post" action="/models/{version}/{action}">'
        '<input type="hidden" name="confirm" value="yes">'
        f'<button type="submit" class="{action}">{esc(action)} v{version}</button></form>'
    )
    body = (
        f"<h1>{esc(action.capitalize())} {esc(found.name)} v{version}?</h1>"
        f"<p>approval now {badge(found.approval)}, gate {badge(found.gate_status)}</p>{form}"
        f"<p>{link('/models', 'Back to the models')}</p>"
    )
    return Page(f"{action} v{version}", body)


def act(view: LoopView, version: int, action: str) -> str:
    """Approve or reject ``version``; what changed, in one sentence."""
    registry, name = view.stores.registry, view.model_name
    if action == "approve":
        done = approve(registry, name, version)
        return f"{name} v{done.version} approved and champion: approval {done.approval}"
    done = reject(registry, name, version)
    return f"{name} v{done.version} rejected: approval {done.approval}"


def render_version(ctx: Ctx) -> Page:
    view, name = ctx.view, ctx.view.model_name
    ref = ctx.path["version"]
    if not ref.isdigit():
        raise ModelNotFound(f"model '{name}' has no version '{ref}'")
    v = view.stores.registry.get_version(name, int(ref))
    metrics = [
        [esc(m), esc(v.tags.get(f"metric.{m}", "-"))] for m in METRICS if f"metric.{m}" in v.tags
    ]
    parts = [
        f"<h1>{esc(name)} v{v.version} {badge(v.approval)} {badge(v.gate_status)}</h1>",
        _flash(ctx),
        f"<p>aliases: {esc(', '.join(v.aliases) or '-')}; created {when(v.created_ms / 1000)}; "
        f"{buttons(v)}</p>",
        section(
            "Metrics (validation)", table(["metric", "value"], metrics, empty="No metrics tagged.")
        ),
        section("Gate report", _gate(v)),
        section("Lineage", _lineage(v)),
        section("Training plots", _plots(view, v)),
        section(
            "Tags",
            table(
                ["tag", "value"],
                ([esc(k), esc(val)] for k, val in sorted(v.tags.items()) if k != GATE_REPORT_TAG),
            ),
        ),
    ]
    return Page(f"{name} v{v.version}", "".join(parts))


PLOTS = "plots"
"""The folder of a training run's plots (ROC, precision-recall, confusion, calibration...)."""


def _plots(view: LoopView, v: ModelVersion) -> str:
    found, problem = attempt(
        "the training run's plots",
        lambda: view.stores.registry.run_artifacts(v.name, v.version, PLOTS),
    )
    if problem:
        return note(problem, "bad")
    shown = [p for p in found or [] if p.lower().endswith(".png")]
    if not shown:
        return note(f"The training run of v{v.version} logged no plots.")
    figures = []
    for path in shown:
        name = path.removeprefix(f"{PLOTS}/")
        title = name.rsplit(".", 1)[0].replace("_", " ")
        src = f"/models/{v.version}/plots/{path_part(name)}"
        figures.append(
            f'<figure class="plot"><img src="{esc(src)}" alt="{esc(title)}">'
            f"<figcaption>{esc(title)}</figcaption></figure>"
        )
    return f'<div class="plots">{"".join(figures)}</div>'


def plot(view: LoopView, version: int, name: str) -> bytes:
    """One training plot of ``version`` (PNG bytes); NotFoundError when there is none."""
    if not name.lower().endswith(".png") or "/" in name:
        raise ModelNotFound(f"no plot {name}")
    return view.stores.registry.run_artifact(view.model_name, version, f"{PLOTS}/{name}")


def _gate(v: ModelVersion) -> str:
    raw = v.tags.get(GATE_REPORT_TAG)
    if not raw:
        return note("No gate report on this version.")
    try:
        report: dict[str, Any] = json.loads(raw)
        checks = report["checks"]
    except (ValueError, KeyError, TypeError):
        return note("The gate report tag is not readable JSON.", "bad")
    rows = [
        [
            badge("passed" if c.get("passed") else "failed", "good" if c.get("passed") else "bad"),
            esc(c.get("name")),
            esc(c.get("detail")),
        ]
        for c in checks
    ]
    return table(["", "check", "detail"], rows, empty="The gate ran no checks.")


def _lineage(v: ModelVersion) -> str:
    tags = v.tags
    run = tags.get("pipeline_run")
    steps = [
        ("original data", tags.get(BASE_SNAPSHOT_TAG)),
        ("training snapshot", tags.get("train_snapshot")),
        ("pipeline run", link(f"/pipelines#{path_part(run)}", run) if run else None),
        ("MLflow run", esc(v.run_id)),
        ("baseline", esc(v.baseline_uri) if v.baseline_uri else None),
        ("version", f"v{v.version}"),
    ]
    chain = " &rarr; ".join(
        f'<span class="card"><span class="label">{esc(k)}</span> '
        f"{val if k in ('pipeline run', 'MLflow run', 'baseline', 'version') else esc(val)}</span>"
        for k, val in steps
        if val
    )
    return f"<p>{chain}</p>"
