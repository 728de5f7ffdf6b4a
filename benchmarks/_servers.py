"""Run one server as a subprocess in its own process group: wait for /ping, POST to it, stop it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server: ``{port}`` in argv is replaced by a free port."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {proc.returncode} before /ping:\n{tail}")
        if _ping(url):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url}/ping not 200 within {timeout_s:.0f} s (log: {log})")


def _stop(proc: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGTERM the whole process group, then SIGKILL whatever is left after ``grace_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def post_json(url: str, body: bytes) -> Any:
    """POST a JSON body; the decoded answer, or RuntimeError naming any status but 200."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            status, text = reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read()
    if status != 200:
        raise RuntimeError(f"{url} answered {status}: {text[:500]!r}")
    return json.loads(text)


@contextlib.contextmanager
def running(
    spec: ServerSpec, *, cwd: Path, log: Path, base_env: dict[str, str], timeout_s: float = 180
) -> Iterator[str]:
    """Run ``spec`` until the block ends; yields its base URL once /ping answers 200."""
    port = free_port()
    argv = [part.replace("{port}", str(port)) for part in spec.argv]
    env = {**base_env, **spec.env}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url, log, timeout_s)
        yield url
    finally:
        _stop(proc)
