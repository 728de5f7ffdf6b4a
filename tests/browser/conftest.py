"""Browser tests: a real Chromium (Debian's ``chromium``) driven by Playwright against real
``driftloop console`` processes over a workspace made by a small closed-loop run.

Screenshots of every page go to ``$CONSOLE_SCREENSHOTS`` (default: a ``console-shots``
folder in pytest's temporary directory) for a reviewer to look at.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from driftloop.config import Settings, load_settings
from driftloop.demo import DemoReport
from driftloop.demo.endpoint import EndpointProcess, free_port
from tests.workspaces import service_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POLL_S = 1.0  # the console's live-update interval in these tests
SMALL = {
    "rows": 2500,
    "normal_requests": 1000,
    "drifted_requests": 1800,
    "label_delay": "500ms",
    "bake": "4s",
    "workers": 1,
}


@pytest.fixture(scope="module")
def playwright(loop: Settings) -> Iterator[Any]:
    """Playwright's sync API, for one test module: while it runs, its event loop is the
    thread's running loop, so the workspace (which runs asyncio) is made before it starts and
    it stops before other modules call ``asyncio.run``."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Any]:
    """Chromium with a fresh profile of its own."""
    profile = tempfile.mkdtemp(prefix="console-chromium-")
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, args=ARGS, viewport={"width": 1300, "height": 900}
    )
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Tab:
    """A browser tab, the console errors it logged, the dialogs it showed, how the next
    confirmation is answered and the requests it made."""

    page: Any
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    accept: bool = True
    requests: list[tuple[str, bool]] = field(default_factory=list)
    """Every request the tab made: its URL and whether it was a live update."""

    def on_request(self, request: Any) -> None:
        self.requests.append((request.url, "x-console-partial" in request.headers))

    def on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        if self.accept:
            dialog.accept()
        else:
            dialog.dismiss()

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    """A fresh tab of the shared browser."""
    found = Tab(browser.new_page())
    found.page.on("console", found.on_console)
    found.page.on("pageerror", lambda exc: found.errors.append(str(exc)))
    found.page.on("dialog", found.on_dialog)
    found.page.on("request", found.on_request)
    yield found
    found.page.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.getbasetemp() / "console-shots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def kept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoReport]:
    """A small closed-loop run (v1, drift, alarm, retrain, v2 canary, a rolled-back
    challenger) made by ``driftloop demo --keep-serving``: its endpoint and console are left
    running, until the end of the session."""
    from driftloop.demo import run_demo

    root = tmp_path_factory.mktemp("console-loop")
    settings = load_settings(home=root / "unused", demo={"folder": root / "demo", **SMALL})
    report = run_demo(settings, keep_serving=True)
    try:
        yield report
    finally:
        for process in report.serving:
            process.stop()


@pytest.fixture(scope="session")
def loop(kept: DemoReport) -> Settings:
    """The workspace of the demo's closed loop."""
    assert kept.folder is not None
    return load_settings(kept.folder / "driftloop.toml", home=kept.folder / ".driftloop")


def start_console(
    settings_root: Path, log: Path, *extra: str, env: dict[str, str] | None = None
) -> EndpointProcess:
    """``python -m driftloop.console`` on a free loopback port over the workspace in
    ``settings_root`` (its driftloop.toml and .driftloop); stop it with ``.stop()``."""
    import subprocess

    port = free_port()
    command = [sys.executable, "-m", "driftloop.console", "--port", str(port)]
    command += ["--poll", str(POLL_S), *extra]
    full = {**os.environ, **service_env(settings_root), **(env or {})}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, env=full, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    return EndpointProcess(process, port, log)


@pytest.fixture(scope="module")
def console(loop: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EndpointProcess]:
    root = loop.workspace.root.parent
    server = start_console(root, tmp_path_factory.mktemp("console") / "console.log")
    try:
        server.wait_ready(60)
        yield server
    finally:
        server.stop()
