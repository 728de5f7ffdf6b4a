"""HTML pieces shared by the pages: escaping, tables, badges, times."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

Cell = str  # already-escaped HTML


def esc(value: object) -> str:
    """``value`` as text safe inside HTML."""
    return html.escape("" if value is None else str(value), quote=True)


def link(href: str, text: object) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def path_part(value: object) -> str:
    """``value`` quoted for one path segment of a URL."""
    return quote(str(value), safe="")


def table(headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, empty: str = "") -> str:
    """A table of already-escaped cells; ``empty`` (plain text) when there are no rows."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return note(empty) if empty else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_TONES = {
    "ALARM": "bad",
    "CompletedWithViolations": "bad",
    "Failed": "bad",
    "Rejected": "bad",
    "rolled_back": "bad",
    "down": "bad",
    "OK": "good",
    "Completed": "good",
    "Succeeded": "good",
    "Approved": "good",
    "completed": "good",
    "up": "good",
    "passed": "good",
    "INSUFFICIENT_DATA": "muted",
    "EmptyWindow": "muted",
    "Executing": "busy",
    "PendingManualApproval": "busy",
}


def badge(text: object, tone: str | None = None) -> str:
    """A coloured label; the tone follows the word unless given."""
    word = str(text)
    return f'<span class="badge {tone or _TONES.get(word, "plain")}">{esc(word)}</span>'


def note(text: str, tone: str = "muted") -> str:
    """A one-sentence message box (empty and broken states)."""
    return f'<p class="note {tone}">{esc(text)}</p>'


def section(title: str, body: str, *, anchor: str | None = None) -> str:
    ident = f' id="{esc(anchor)}"' if anchor else ""
    return f"<section{ident}><h2>{esc(title)}</h2>{body}</section>"


def cards(items: Iterable[tuple[str, str]]) -> str:
    """Small labelled values in a row: (label, escaped HTML)."""
    inner = "".join(
        f'<div class="card"><div class="label">{esc(k)}</div><div class="value">{v}</div></div>'
        for k, v in items
    )
    return f'<div class="cards">{inner}</div>'


def when(moment: float | str | None) -> str:
    """A UTC time as ``YYYY-MM-DD HH:MM:SS``; ``-`` when unknown."""
    if moment is None or moment == "":
        return "-"
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return esc(moment)
        return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def number(value: object, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else esc(value)
    if isinstance(value, int | float):
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)
    return esc(value)


@dataclass
class Page:
    """A rendered page: its title, the HTML of its body, and its HTTP status."""

    title: str
    body: str
    status: int = 200
    nav: str = ""
    headers: dict[str, str] = field(default_factory=dict)
