"""Real server processes on loopback ports that the test picks and stops."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from driftloop.demo.endpoint import EndpointProcess, free_port

DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))
SERVE = str(Path(sys.executable).with_name("serve"))  # SageMaker's `docker run <image> serve`


class Server(EndpointProcess):
    """The product's endpoint process (``wait_ready``, ``stop(sig)``), plus what tests inspect."""

    def workers(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]


def start_server(
    args: list[str], env: dict[str, str], log: Path, command: list[str] | None = None
) -> Server:
    """``driftloop serve ARGS --port P`` (or ``command ARGS --port P``) in its own session."""
    port = free_port()
    with log.open("wb") as handle:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [*(command or [DRIFTLOOP, "serve"]), *args, "--port", str(port)],
            env={**os.environ, **env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(process, port, log)


def post(
    url: str, body: bytes, headers: dict[str, str], timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()
