"""Readiness: ``/ping`` answers 503 until the warm-up has rendered the first pages, and the
first page fetched once it answers 200 is served from that warm state."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from driftloop.config import load_settings
from driftloop.console import overview, view, warmup
from driftloop.console.app import create_app
from driftloop.console.context import Ctx
from driftloop.console.html import Page
from driftloop.console.view import LoopView
from tests.workspaces import emit


@pytest.fixture
def loop_view(tmp_path: Path) -> Iterator[LoopView]:
    """A view over a workspace with one event; its snapshot is refreshed only when asked."""
    settings = load_settings(home=tmp_path / ".driftloop")
    emit(settings.workspace.ensure(), "test.console", "Console Check", {"n": 1})
    found = LoopView(settings, refresh_s=3600)
    yield found
    found.close()
    gc.unfreeze()  # the warm-up froze this test process's objects


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The warm-up stays in its first page until this is set."""
    release = threading.Event()

    def slow(ctx: Ctx) -> Page:
        assert release.wait(20)
        return overview.render(ctx)

    monkeypatch.setattr(warmup, "PAGES", (slow, *warmup.PAGES))
    return release


def _until(check: object, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_ping_is_503_until_warm_then_the_first_page_is_served_warm(
    loop_view: LoopView, held: threading.Event
) -> None:
    app = create_app(loop_view)
    with TestClient(app) as client:
        answer = client.get("/ping")
        assert (answer.status_code, answer.text) == (503, "warming up")
        assert answer.headers["retry-after"] == "1"
        held.set()
        _until(lambda: client.get("/ping").status_code == 200)
        reads, settles = loop_view.reads, loop_view.settles
        assert reads == 1 and settles == 2  # the warm-up read the stream, settled twice
        page = client.get("/")
        assert page.status_code == 200 and "Overview" in page.text
        assert app.state.warmup.cold_pages == 0  # it did not wait for the warm-up
        assert loop_view.reads == reads  # it used the snapshot the warm-up read


def test_a_page_asked_for_during_the_warm_up_waits_for_it(
    loop_view: LoopView, held: threading.Event
) -> None:
    app = create_app(loop_view)
    with TestClient(app) as client:
        answers = []
        asking = threading.Thread(target=lambda: answers.append(client.get("/alarms")))
        asking.start()
        _until(lambda: app.state.warmup.cold_pages == 1)
        time.sleep(0.2)
        assert answers == []
        held.set()
        asking.join(20)
        assert answers[0].status_code == 200 and "Console Check" in answers[0].text
        assert loop_view.reads == 1  # the page's reads were the warm-up's, not a second time


def test_a_stuck_warm_up_holds_readiness_back_only_until_its_limit(
    loop_view: LoopView, held: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]  # the warm-up's clock, moved by hand: a busy process cannot skip the 503

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return now[0]

    monkeypatch.setattr(warmup, "time", Clock)
    with TestClient(create_app(loop_view)) as client:
        assert client.get("/ping").status_code == 503
        now[0] += warmup.LIMIT_S - 1
        assert client.get("/ping").status_code == 503
        now[0] += 2
        assert client.get("/ping").status_code == 200
        assert not client.app.state.warmup.done.is_set()  # type: ignore[attr-defined]
        held.set()


def test_without_warm_up_the_console_is_ready_at_once(loop_view: LoopView) -> None:
    with TestClient(create_app(loop_view, warm=False)) as client:
        assert client.get("/ping").status_code == 200
        assert client.get("/").status_code == 200
    assert loop_view.settles == 0


def test_the_refresh_settles_again_after_many_new_events(
    loop_view: LoopView, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(view, "SETTLE_EVERY", 3)
    loop_view.refresh_s = 0.05
    loop_view.events()
    loop_view.settle()
    assert gc.get_freeze_count() > 0
    for n in range(3):
        emit(loop_view.settings.workspace, "test.console", "Console Check", {"n": n + 2})
    _until(lambda: loop_view.settles == 2)
    assert len(loop_view.events().events) == 4
