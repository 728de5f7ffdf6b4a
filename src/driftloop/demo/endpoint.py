"""The demo's endpoint: a real `driftloop serve` process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from driftloop.errors import DriftloopError


@dataclass
class EndpointProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    what: str = "the endpoint"

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Return once ``/ping`` answers 200; raise with the log's tail if it never does."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DriftloopError(f"{self.what} exited at start: {self._tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        tail = self._tail()
        raise DriftloopError(f"{self.what} did not answer /ping in {timeout_s:g} s: {tail}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 40.0) -> int:
        """Send ``sig`` to the process group (SIGTERM is graceful: in-flight requests finish),
        then SIGKILL if it hangs; returns the exit code (-N when signal N ended it)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        return int(self.process.returncode)

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.is_file() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_endpoint(name: str, config: Path, home: Path, workers: int, log: Path) -> EndpointProcess:
    """``python -m driftloop serve NAME`` in its own session, so it may outlive the demo."""
    port = free_port()
    env = {**os.environ, "DRIFTLOOP_CONFIG": str(config), "DRIFTLOOP_HOME": str(home)}
    command = [sys.executable, "-m", "driftloop", "serve", name]
    command += ["--port", str(port), "--workers", str(workers)]
    with log.open("wb") as handle:  # the child keeps its own descriptor
        process = subprocess.Popen(
            command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    return EndpointProcess(process, port, log)


def start_console(
    config: Path, home: Path, endpoint: EndpointProcess, log: Path
) -> EndpointProcess:
    """``python -m driftloop.console`` on a free loopback port in its own session, its health
    check pointed at ``endpoint``; it stops by itself when the endpoint's process ends."""
    port = free_port()
    env = {**os.environ, "DRIFTLOOP_CONFIG": str(config), "DRIFTLOOP_HOME": str(home)}
    command = [sys.executable, "-m", "driftloop.console", "--port", str(port)]
    command += ["--endpoint-url", endpoint.url, "--stop-with", str(endpoint.process.pid)]
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    return EndpointProcess(process, port, log, what="the console")
