"""Endpoint: traffic per variant, latency p50/p99 and 4xx/5xx over time, with drift, alarm and
deployment events marked on the time axis; the current endpoint config."""

from __future__ import annotations

from driftloop.console import span, traffic
from driftloop.console.context import Ctx
from driftloop.console.html import Page, badge, esc, note, number, path_part, section, table, when
from driftloop.console.markers import markers
from driftloop.console.svg import Chart, Marker, Point, Series, line_chart
from driftloop.console.view import attempt
from driftloop.serving.endpoint_config import EndpointConfig

Points = list[Point]


def render(ctx: Ctx) -> Page:
    name = ctx.path["name"]
    config = ctx.view.stores.endpoints.get(name)  # NotFoundError: the 404 page
    found, problem = attempt("the metric store", lambda: _window(ctx, name))
    window = found or traffic.Window.of("1h")
    charts = None
    if found is not None:
        charts, problem = attempt("the metric store", lambda: _charts(ctx, config, window))
    parts = [
        f"<h1>Endpoint {esc(name)}</h1>",
        _ranges(name, window),
        section(
            "Traffic, latency and errors",
            charts if charts is not None else note(problem or "", "bad"),
        ),
        section("Endpoint config", _config(config)),
    ]
    return Page(f"Endpoint {name}", "".join(parts))


def _window(ctx: Ctx, name: str) -> traffic.Window:
    wanted = ctx.arg("range")
    if wanted in traffic.RANGES:
        return traffic.Window.of(wanted)
    names = traffic.variants(ctx.view, name)
    return span.fitted(span.extent(ctx.view, name, names))


def _ranges(name: str, window: traffic.Window) -> str:
    links = []
    for key in ("auto", *traffic.RANGES):
        cls = ' class="on"' if key == window.name else ""
        links.append(f'<a{cls} href="/endpoints/{path_part(name)}?range={key}">{key}</a>')
    return f'<p class="filters">window: {" ".join(links)}</p>'


def _charts(ctx: Ctx, config: EndpointConfig, window: traffic.Window) -> str:
    view, name = ctx.view, config.name
    names = traffic.variants(view, name) or [v.name for v in config.variants]
    marks = _markers(ctx, name, window)
    reads: traffic.Reads = {}  # the latency of each variant is read once for p50 and p99

    def series(variants: list[str], metric: str, statistic: str, scale: float = 1.0) -> Points:
        return traffic.series(view, name, variants, metric, statistic, window, scale, reads)

    calls = [Series(v, series([v], "Invocations", "Sum")) for v in names]
    p50 = [Series("all p50", series(names, "ModelLatency", "p50", 1e-3))]
    p99 = [Series(f"{v} p99", series([v], "ModelLatency", "p99", 1e-3)) for v in names]
    errors = [
        Series("4xx", series(names, "Invocation4XXErrors", "Sum")),
        Series("5xx", series(names, "Invocation5XXErrors", "Sum")),
    ]
    per = f"per {window.period} s"
    charts = [
        Chart(f"Requests {per}", calls, window.start, window.end, markers=marks),
        Chart("Model latency", p50 + p99, window.start, window.end, unit="ms", markers=marks),
        Chart(f"Errors {per}", errors, window.start, window.end, markers=marks),
    ]
    legend = table(
        ["time", "event"],
        ([when(m.at), badge(m.label, m.tone if m.tone != "info" else "plain")] for m in marks),
        empty="No drift, alarm or deployment event in this window.",
    )
    return '<div class="grid">' + "".join(line_chart(c) for c in charts) + "</div>" + legend


def _markers(ctx: Ctx, endpoint: str, window: traffic.Window) -> list[Marker]:
    alarms = {
        a.alarm_name for a in ctx.view.stores.alarms.list() if endpoint in a.dimensions.values()
    }
    return markers(ctx.view.events(), endpoint, alarms, window.start, window.end)


def _config(config: EndpointConfig) -> str:
    total = sum(v.weight for v in config.variants) or 1.0
    rows = [
        [
            esc(v.name),
            esc(v.model),
            number(v.weight),
            f"{100 * v.weight / total:.0f} %",
            esc(v.fault.model_dump_json() if v.fault else "-"),
        ]
        for v in config.variants
    ]
    if config.shadow is not None:
        s = config.shadow
        rows.append(
            [
                esc(s.name) + " " + badge("shadow", "muted"),
                esc(s.model),
                "-",
                f"{s.sampling_percent:g} % copied",
                esc(s.fault.model_dump_json() if s.fault else "-"),
            ]
        )
    capture = config.capture
    said = (
        f"capture {'on' if capture.enabled else 'off'}, {capture.sampling_percent:g} % sampled, "
        f"modes {', '.join(capture.modes)}"
    )
    if config.serverless is not None:
        said += (
            f"; serverless {config.serverless.memory_mb} MB, max concurrency "
            f"{config.serverless.max_concurrency}"
        )
    return (
        table(["variant", "model", "weight", "traffic", "fault"], rows)
        + f'<p class="muted">revision {config.revision}, updated {when(config.updated or None)}; '
        f"model {esc(config.model_name)}; {esc(said)}</p>"
    )
