"""The console's warm-up and the readiness it decides.

At start a background thread renders every page a person opens first, unseen: the event stream
is read, the registry and the metric store are opened, and each endpoint's page is drawn over
each of its windows, so their settled metric periods are remembered (a day of 10-second
datapoints takes most of a second to read the first time). Until that is done ``/ping``
answers 503, so whatever waits for readiness (a load balancer, ``driftloop demo``, the tests)
never meets a cold page. A page asked for before then is still served: it waits for the
warm-up rather than doing the same reads at once. A warm-up that takes longer than
``limit_s`` no longer holds readiness back (a slow store must not keep the console out of
service); the log says so.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from driftloop.console import alarms, endpoint, models, monitoring, overview, pipelines
from driftloop.console.context import Ctx
from driftloop.console.html import Page
from driftloop.console.traffic import RANGES
from driftloop.console.view import LoopView

log = logging.getLogger(__name__)
Renderer = Callable[[Ctx], Page]

PAGES: tuple[Renderer, ...] = (
    overview.render,
    pipelines.render,
    models.render,
    monitoring.render,
    alarms.render,
)
LIMIT_S = 30.0


class Warmup:
    """One warm-up of ``view``; ``ready`` once it is done (at once when not ``enabled``)."""

    def __init__(
        self, view: LoopView, *, enabled: bool = True, limit_s: float | None = None
    ) -> None:
        self.view = view
        self.limit_s = LIMIT_S if limit_s is None else limit_s
        self.done = threading.Event()
        self.started = time.monotonic()
        self.cold_pages = 0
        """Pages asked for before the warm-up ended (they waited for it)."""
        if not enabled:
            self.done.set()

    @property
    def ready(self) -> bool:
        if self.done.is_set():
            return True
        return time.monotonic() - self.started > self.limit_s

    def start(self) -> None:
        """Warm in a background thread (nothing to do when already done)."""
        self.started = time.monotonic()
        if not self.done.is_set():
            threading.Thread(target=self._run, name="console-warm", daemon=True).start()

    async def wait(self) -> None:
        """Return once warm, or after ``limit_s``; counts the page that had to wait."""
        if self.done.is_set():
            return
        self.cold_pages += 1
        left = max(self.limit_s - (time.monotonic() - self.started), 0.0)
        await asyncio.to_thread(self.done.wait, left)

    def _run(self) -> None:
        try:
            self.view.events()  # the stream, read once, is kept out of the collector's
            self.view.settle()  # sight before the pages allocate (see LoopView.settle)
            for render in PAGES:
                _warm_page(render, Ctx(self.view))
            for version in _newest_versions(self.view):
                _warm_page(models.render_version, Ctx(self.view, path={"version": version}))
            for name in _endpoint_names(self.view):  # each endpoint's settled metric periods
                for wanted in ("auto", *RANGES):
                    ctx = Ctx(self.view, path={"name": name}, query={"range": wanted})
                    _warm_page(endpoint.render, ctx)
            self.view.settle()
        finally:
            self.done.set()
        took = time.monotonic() - self.started
        if took > self.limit_s:
            log.warning("console warmed in %.1f s, after it reported ready", took)
        else:
            log.info("console warmed in %.1f s", took)


def _warm_page(render: Renderer, ctx: Ctx) -> None:
    try:
        render(ctx)
    except Exception:  # a page that cannot render says so when asked; not here
        log.debug("warming %s failed", render.__module__, exc_info=True)


def _endpoint_names(view: LoopView) -> list[str]:
    try:
        return [config.name for config in view.stores.endpoints.list()]
    except Exception:  # the overview says why the endpoints cannot be listed
        log.debug("listing endpoints to warm failed", exc_info=True)
        return []


def _newest_versions(view: LoopView, count: int = 3) -> list[str]:
    try:
        versions = view.stores.registry.list_versions(view.model_name)
    except Exception:  # the models page says why the registry cannot be read
        log.debug("listing model versions to warm failed", exc_info=True)
        return []
    return [str(v.version) for v in versions[-count:]]
