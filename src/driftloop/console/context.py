"""What a page gets: the workspace view, the request's path and query, console options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from driftloop.console.view import LoopView
from driftloop.errors import NotFoundError


@dataclass(frozen=True)
class Ctx:
    view: LoopView
    path: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    endpoint_url: str | None = None
    """Where the endpoint answers ``/ping`` (health on the overview), if known."""

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, default).strip()


def not_found(what: str) -> NotFoundError:
    return NotFoundError(what)
