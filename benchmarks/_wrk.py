"""wrk, the load generator: install it when missing, script a POST, run it and parse its report."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_PERCENTILE = re.compile(r"^\s+(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s+(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")

_LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "{content_type}"
local file = assert(io.open("{body_path}", "rb"))
wrk.body = file:read("*a")
file:close()
"""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles in ms and failed responses."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _apt(*args: str) -> bool:
    prefix = [] if os.geteuid() == 0 or not shutil.which("sudo") else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run([*prefix, "apt-get", *args], env=env, check=False).returncode == 0


def ensure_wrk() -> str:
    """The path of wrk, installed from Debian's packages when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if not _apt("install", "-y", "wrk"):
        _apt("update")
        _apt("install", "-y", "wrk")
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is missing and `apt-get install -y wrk` did not install it")
    return found


def write_script(folder: Path, name: str, body: bytes, content_type: str) -> Path:
    """A Lua script that makes wrk POST ``body``; the body is read from a file next to it."""
    body_path = folder / f"{name}.body"
    body_path.write_bytes(body)
    script = folder / f"{name}.lua"
    script.write_text(_LUA.format(content_type=content_type, body_path=body_path.resolve()))
    return script


def parse(report: str) -> WrkResult:
    """Read requests/s, p50, p99, non-2xx and socket errors out of a ``wrk --latency`` report."""
    rps, total = _RPS.search(report), _TOTAL.search(report)
    if rps is None or total is None:
        raise ValueError(f"not a wrk report:\n{report}")
    latency = {float(p): float(v) * _UNITS_MS[u] for p, v, u in _PERCENTILE.findall(report)}
    non_2xx = _NON_2XX.search(report)
    socket = _SOCKET.search(report)
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        p50_ms=latency[50.0],
        p99_ms=latency[99.0],
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, socket.groups())) if socket else 0,
    )


def run(
    wrk: str, url: str, script: Path, *, connections: int, threads: int, duration_s: int
) -> WrkResult:
    """Load ``url`` for ``duration_s`` seconds; slow answers count up to 30 s, not wrk's 2 s."""
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s}s", "--timeout", "30s"]
    argv += ["--latency", "-s", str(script), url]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse(done.stdout)
