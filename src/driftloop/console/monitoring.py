"""Monitoring: runs with their verdict, per-feature drift history (threshold drawn), estimated
vs labelled quality over time; a run's violations, drift table and Evidently report.

The history comes from the runs' summaries ("Monitoring Run Completed" events); only a run's
own page opens its files, through the artifact store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftloop.console.context import Ctx
from driftloop.console.html import (
    Page,
    badge,
    esc,
    link,
    note,
    number,
    path_part,
    section,
    table,
    when,
)
from driftloop.console.markers import epoch
from driftloop.console.svg import Chart, Series, line_chart
from driftloop.console.view import MONITORING_DONE, EventSnapshot, LoopView, attempt
from driftloop.errors import NotFoundError

LISTED = 50
BASELINE_THRESHOLD = 0.1  # the baseline's default comparison_threshold
FILES = ("constraint_violations.json", "drift.json", "quality.json")


def run_id(detail: dict[str, Any]) -> str:
    """A run's id: the last part of its folder (or results URI)."""
    where = str(detail.get("folder") or detail.get("results") or "")
    return where.rstrip("/").rsplit("/", 1)[-1]


def render(ctx: Ctx) -> Page:
    snapshot = ctx.view.events()
    wanted = ctx.arg("endpoint") or None
    runs = snapshot.of_type(MONITORING_DONE, wanted)
    parts = ["<h1>Monitoring</h1>"]
    if snapshot.error:
        parts.append(note(f"The event stream could not be read: {snapshot.error}", "bad"))
    if not runs:
        parts.append(
            note(
                "No monitoring run yet: driftloop monitor run --endpoint NAME, or a "
                "schedule in driftloop.toml that the agent runs."
            )
        )
        return Page("Monitoring", "".join(parts))
    parts.append(snapshot.derived(f"monitoring charts {wanted}", [MONITORING_DONE], _charts(runs)))
    rows = [_row(e) for e in reversed(runs[-LISTED:])]
    headers = [
        "time",
        "endpoint",
        "run",
        "status",
        "rows",
        "violations",
        "drift share",
        "drifted",
        "roc_auc (labelled)",
    ]
    more = (
        f'<p class="muted">{len(runs)} runs, newest {LISTED} listed</p>'
        if len(runs) > LISTED
        else ""
    )
    parts.append(section("Runs", table(headers, rows) + more))
    return Page("Monitoring", "".join(parts))


def _charts(runs: list[dict[str, Any]]) -> Callable[[EventSnapshot], str]:
    """The history charts of ``runs``, drawn once per snapshot of the stream."""

    def draw(_: EventSnapshot) -> str:
        return section(
            "Drift per feature (baseline distance, threshold dashed)", _drift(runs)
        ) + section("Model quality: labelled vs estimated ROC AUC", _quality(runs))

    return draw


def _row(event: dict[str, Any]) -> list[str]:
    d = event.get("detail") or {}
    rid, endpoint = run_id(d), str(d.get("endpoint", "?"))
    labelled = ((d.get("quality") or {}).get("model_quality") or {}).get("roc_auc")
    share = d.get("drift_share")
    return [
        when(event.get("time")),
        esc(endpoint),
        link(f"/monitoring/{path_part(endpoint)}/{path_part(rid)}", rid),
        badge(d.get("status", "?")),
        number(d.get("rows")),
        number(d.get("violations")),
        "-" if share is None else f"{100 * float(share):.0f} %",
        esc(", ".join(d.get("drifted_columns") or []) or "-"),
        number(labelled),
    ]


def _span(runs: list[dict[str, Any]]) -> tuple[list[tuple[float, dict[str, Any]]], float, float]:
    timed = [(t, e.get("detail") or {}) for e in runs if (t := epoch(e.get("time"))) is not None]
    if not timed:
        return [], 0.0, 1.0
    start, end = timed[0][0], timed[-1][0]
    pad = max((end - start) * 0.05, 30.0)
    return timed, start - pad, end + pad


def _drift(runs: list[dict[str, Any]]) -> str:
    timed, start, end = _span(runs)
    features: dict[str, list[tuple[float, float | None]]] = {}
    for t, d in timed:
        for feature, distance in ((d.get("quality") or {}).get("baseline_drift") or {}).items():
            features.setdefault(feature, []).append((t, float(distance)))
    if not features:
        return note("The runs measured no baseline drift (no baseline, or no rows).")
    charts = [
        line_chart(
            Chart(
                feature,
                [Series(feature, points)],
                start,
                end,
                threshold=BASELINE_THRESHOLD,
                width=320,
                height=120,
            )
        )
        for feature, points in sorted(
            features.items(), key=lambda kv: -max(v or 0 for _, v in kv[1])
        )
    ]
    return f'<div class="grid">{"".join(charts)}</div>'


def _quality(runs: list[dict[str, Any]]) -> str:
    timed, start, end = _span(runs)
    labelled, estimated = [], []
    for t, d in timed:
        quality = d.get("quality") or {}
        labelled.append((t, (quality.get("model_quality") or {}).get("roc_auc")))
        estimated.append((t, (quality.get("estimated_quality") or {}).get("roc_auc")))
    chart = Chart(
        "ROC AUC", [Series("labelled", labelled), Series("estimated", estimated)], start, end
    )
    return line_chart(chart)


def find_run(view: LoopView, endpoint: str, rid: str) -> dict[str, Any]:
    """The summary of run ``rid`` of ``endpoint``; :class:`NotFoundError` when there is none."""
    for event in reversed(view.events().of_type(MONITORING_DONE, endpoint)):
        detail: dict[str, Any] = event.get("detail") or {}
        if run_id(detail) == rid:
            return {**detail, "time": event.get("time")}
    raise NotFoundError(f"endpoint '{endpoint}' has no monitoring run '{rid}'")


def run_folder(view: LoopView, detail: dict[str, Any]) -> Path:
    uri = detail.get("results") or detail.get("folder")
    if not uri:
        raise NotFoundError("the run's summary names no results")
    uri = str(uri)
    return view.stores.artifacts.local_folder(uri if "://" in uri else f"file://{uri}")


def render_run(ctx: Ctx) -> Page:
    endpoint, rid = ctx.path["endpoint"], ctx.path["run"]
    detail = find_run(ctx.view, endpoint, rid)
    parts = [
        f"<h1>Monitoring run {esc(rid)} {badge(detail.get('status', '?'))}</h1>",
        f"<p>{esc(endpoint)}/{esc(detail.get('variant'))} v{esc(detail.get('model_version'))}, "
        f"window {when((detail.get('window') or {}).get('since'))} to "
        f"{when((detail.get('window') or {}).get('until'))}, {number(detail.get('rows'))} rows "
        f"from {number(detail.get('records'))} records</p>",
    ]
    folder, problem = attempt("the run's folder", lambda: run_folder(ctx.view, detail))
    if folder is None:
        parts.append(note(problem or "", "bad"))
        return Page(f"Run {rid}", "".join(parts))
    files = {name: _read(folder / name) for name in FILES}
    parts.append(section("Violations", _violations(files["constraint_violations.json"])))
    parts.append(section("Drift", _drift_table(files["drift.json"])))
    parts.append(section("Model quality", _quality_table(files["quality.json"])))
    if (folder / "report.html").is_file():
        href = f"/monitoring/{path_part(endpoint)}/{path_part(rid)}/report"
        parts.append(f"<p>{link(href, 'Open the Evidently report')}</p>")
    return Page(f"Run {rid}", "".join(parts))


def _read(path: Path) -> dict[str, Any] | str:
    """The JSON object in ``path``, or why it cannot be used."""
    try:
        loaded = json.loads(path.read_text())
    except FileNotFoundError:
        return f"{path.name} is missing from the run's folder."
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return (
            f"{path.name} is not readable JSON ({type(exc).__name__}); the run's folder is damaged."
        )
    return loaded if isinstance(loaded, dict) else f"{path.name} does not hold a JSON object."


def _violations(found: dict[str, Any] | str) -> str:
    if isinstance(found, str):
        return note(found, "bad")
    rows = [
        [
            esc(v.get("feature_name") or v.get("metric_name")),
            esc(v.get("constraint_check_type")),
            esc(v.get("description")),
        ]
        for v in found.get("violations") or []
        if isinstance(v, dict)
    ]
    return table(["feature", "check", "description"], rows, empty="No violations.")


def _drift_table(found: dict[str, Any] | str) -> str:
    if isinstance(found, str):
        return note(found, "bad")
    rows = [
        [
            esc(c.get("column")),
            esc(c.get("method")),
            number(c.get("score"), 4),
            number(c.get("threshold")),
            badge("drift", "bad") if c.get("drifted") else "no",
        ]
        for c in found.get("columns") or []
        if isinstance(c, dict)
    ]
    verdict = (
        badge("dataset drift", "bad")
        if found.get("dataset_drift")
        else badge("no dataset drift", "good")
    )
    return f"<p>{verdict}</p>" + table(["feature", "method", "score", "threshold", "drifted"], rows)


def _quality_table(found: dict[str, Any] | str) -> str:
    if isinstance(found, str):
        return note(found, "bad")
    rows = []
    for kind in ("model_quality", "estimated_quality"):
        values = found.get(kind) or {}
        rows.append(
            [
                esc(kind.replace("_", " ")),
                *(number(values.get(m)) for m in ("rows", "roc_auc", "precision", "recall", "f1")),
            ]
        )
    return table(["", "rows", "roc_auc", "precision", "recall", "f1"], rows)


def report_file(ctx: Ctx) -> Path:
    detail = find_run(ctx.view, ctx.path["endpoint"], ctx.path["run"])
    path = run_folder(ctx.view, detail) / "report.html"
    if not path.is_file():
        raise NotFoundError("this run has no Evidently report")
    return path
