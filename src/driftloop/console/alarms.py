"""Alarms and events: alarm states and history, the event stream with filters, deliveries,
notifications sent, retries and dead letters."""

from __future__ import annotations

import json
from typing import Any

from driftloop.console.context import Ctx
from driftloop.console.html import Page, badge, esc, note, number, section, table, when
from driftloop.console.view import attempt

LISTED = 100


def render(ctx: Ctx) -> Page:
    parts = ["<h1>Alarms and events</h1>"]
    parts.append(section("Alarms", _guarded("the alarms", lambda: _alarms(ctx))))
    parts.append(section("Alarm history", _guarded("the alarm history", lambda: _history(ctx))))
    parts.append(section("Events", _events(ctx), anchor="events"))
    parts.append(
        section(
            "Notifications sent and deliveries",
            _guarded("the deliveries", lambda: _deliveries(ctx)),
        )
    )
    parts.append(
        section("Retries and dead letters", _guarded("the dead letters", lambda: _dead(ctx)))
    )
    return Page("Alarms and events", "".join(parts))


def _guarded(what: str, render: Any) -> str:
    html, problem = attempt(what, render)
    return html if html is not None else note(problem or "", "bad")


def _alarms(ctx: Ctx) -> str:
    store = ctx.view.stores.alarms
    rows = []
    for definition in store.list():
        found = store.get(definition.alarm_name)
        stat = definition.statistic or definition.extended_statistic or "?"
        rows.append(
            [
                f'<span id="alarm-{esc(found.alarm_name)}">{esc(found.alarm_name)}</span>',
                badge(found.state),
                esc(
                    f"{definition.metric_name} {stat} {definition.comparison_operator} "
                    f"{definition.threshold:g}, "
                    f"{definition.evaluation_periods} x {definition.period} s"
                ),
                esc(found.reason),
                when(found.updated),
            ]
        )
    return table(
        ["alarm", "state", "rule", "reason", "since"],
        rows,
        empty="No alarm yet: driftloop alarms put, or [[alarms]] in driftloop.toml.",
    )


def _history(ctx: Ctx) -> str:
    rows = [
        [when(h.time), esc(h.alarm_name), f"{badge(h.old)} &rarr; {badge(h.new)}", esc(h.reason)]
        for h in ctx.view.stores.alarms.history(limit=50)
    ]
    return table(["time", "alarm", "change", "reason"], rows, empty="No alarm has changed state.")


def _events(ctx: Ctx) -> str:
    snapshot = ctx.view.events()
    source, kind, text = ctx.arg("source"), ctx.arg("type"), ctx.arg("q").lower()
    parts = []
    if snapshot.error:
        parts.append(note(f"The event stream could not be read: {snapshot.error}", "bad"))
    if snapshot.problems:
        parts.append(
            note(
                f"{len(snapshot.problems)} line(s) of the event stream are not events "
                f"(first: {snapshot.problems[0]}); delivery dead-letters them.",
                "bad",
            )
        )
    sources = sorted({str(e.get("source")) for e in snapshot.events[-5000:]})
    kinds = sorted(snapshot.by_type)
    parts.append(_filters(sources, kinds, source, kind, text))
    pool = snapshot.of_type(kind) if kind else snapshot.events
    shown: list[dict[str, Any]] = []
    for event in reversed(pool):
        if source and event.get("source") != source:
            continue
        if text and text not in json.dumps(event.get("detail")).lower():
            continue
        shown.append(event)
        if len(shown) >= LISTED:
            break
    rows = [
        [
            when(e.get("time")),
            esc(e.get("source")),
            esc(e.get("detail-type")),
            f"<pre>{esc(json.dumps(e.get('detail'))[:300])}</pre>",
        ]
        for e in shown
    ]
    parts.append(
        f'<p class="muted">{len(snapshot.events):,} events in the stream; the newest '
        f"{len(shown)} matching are listed.</p>"
    )
    parts.append(
        table(
            ["time", "source", "detail-type", "detail"],
            rows,
            empty="No event matches." if snapshot.events else "No event yet.",
        )
    )
    return "".join(parts)


def _filters(sources: list[str], kinds: list[str], source: str, kind: str, text: str) -> str:
    def select(name: str, options: list[str], chosen: str) -> str:
        items = ['<option value="">any</option>'] + [
            f'<option{" selected" if o == chosen else ""} value="{esc(o)}">{esc(o)}</option>'
            for o in options
        ]
        return f'<select name="{name}">{"".join(items)}</select>'

    return (
        f'<form class="filters" method="get" action="/alarms#events">source '
        f"{select('source', sources, source)} detail-type {select('type', kinds, kind)} "
        f'containing <input name="q" value="{esc(text)}" size="16"> '
        '<button type="submit">filter</button></form>'
    )


def _deliveries(ctx: Ctx) -> str:
    rows = ctx.view.stores.events.deliveries(50)
    notes = [r for r in rows if r.get("target_type") == "notify"]
    sent = table(
        ["delivered", "event", "rule", "topic target"],
        (
            [
                when(r.get("delivered_at")),
                esc(_kind(r)),
                esc(r.get("rule")),
                number(r.get("target")),
            ]
            for r in notes
        ),
        empty="No notification sent yet.",
    )
    other = table(
        ["delivered", "event", "rule", "target type", "attempts"],
        (
            [
                when(r.get("delivered_at")),
                esc(_kind(r)),
                esc(r.get("rule")),
                esc(r.get("target_type")),
                number(r.get("attempts")),
            ]
            for r in rows
        ),
        empty="No delivery yet.",
    )
    return f"<h3>Notifications</h3>{sent}<h3>All deliveries</h3>{other}"


def _kind(row: dict[str, Any]) -> str:
    event = row.get("event")
    if isinstance(event, dict):
        return f"{event.get('detail-type')} ({str(row.get('event_id', ''))[:8]})"
    return str(row.get("event_id", ""))[:8]


def _dead(ctx: Ctx) -> str:
    bus = ctx.view.stores.events
    retry_rows = [
        [
            when(r.get("next_at")),
            esc(_kind(r)),
            esc(r.get("rule")),
            number(r.get("attempts")),
            esc(str(r.get("error"))[:200]),
        ]
        for r in bus.retries(50)
    ]
    dead_rows = [
        [
            when(r.get("failed_at")),
            esc(_kind(r)),
            esc(r.get("rule") or "-"),
            number(r.get("attempts")),
            esc(str(r.get("error"))[:200]),
        ]
        for r in bus.dead_letters(50)
    ]
    return table(
        ["next attempt", "event", "rule", "attempts", "error"],
        retry_rows,
        empty="No delivery is waiting for a retry.",
    ) + table(["failed", "event", "rule", "attempts", "error"], dead_rows, empty="No dead letter.")
