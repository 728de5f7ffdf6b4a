"""The page frame: navigation, the live indicator and the script that refreshes ``<main>``."""

from __future__ import annotations

from driftloop.console.html import Page, esc

NAV = (
    ("/", "Overview"),
    ("/endpoints", "Endpoint"),
    ("/models", "Models"),
    ("/monitoring", "Monitoring"),
    ("/alarms", "Alarms and events"),
    ("/pipelines", "Pipelines and deployments"),
)


def _on(href: str, path: str) -> bool:
    return path == "/" if href == "/" else path.startswith(href)


def frame(page: Page, path: str, poll_ms: int) -> str:
    links = "".join(
        f'<a href="{href}"{" class=on" if _on(href, path) else ""}>{esc(text)}</a>'
        for href, text in NAV
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(page.title)} - driftloop</title>"
        '<link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/static/console.css"></head>'
        f'<body data-poll="{poll_ms}"><header><a class="brand" href="/">driftloop</a>'
        f'<nav>{links}</nav><span id="live" class="live">live</span></header>'
        f"<main>{page.body}</main>"
        '<script src="/static/console.js"></script></body></html>'
    )
