"""``driftloop agent --console PORT``: the agent serves the console while it runs, and stops it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from tests.waiting import wait_until


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        with refused:  # its socket closes now, not when collected (a ResourceWarning then)
            return refused.code
    except OSError:
        return None


def test_the_agent_serves_the_console_and_stops_it_when_it_stops(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "DRIFTLOOP_HOME": str(tmp_path / "ws"), "DRIFTLOOP_AGENT__TICK_S": "0.5"}
    log = (tmp_path / "agent.log").open("wb")
    agent = subprocess.Popen(
        [sys.executable, "-m", "driftloop", "agent", "--console", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _ping(port) == 200, 120, interval_s=0.3, what="the console's /ping")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert b"driftloop" in page.read().lower()
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(60) == 0
        wait_until(lambda: _ping(port) is None, 30, what="the console to stop with the agent")
    finally:
        if agent.poll() is None:
            agent.kill()
        log.close()
