"""What the soak watches on the server: memory and descriptors of its processes (read from
/proc), its capture files, and which model versions answer."""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class Usage:
    """The server's processes together: resident memory and open file descriptors."""

    processes: int
    rss_bytes: int
    fds: int


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): state, ppid, pgrp..."""
    text = (_PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def _pids() -> list[int]:
    return [int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit()]


def server_group(command_word: str) -> int:
    """The process group of this process's child whose command line holds ``command_word``
    (a server started in its own session leads its own group)."""
    me = str(os.getpid())
    for pid in _pids():
        try:
            if _stat_fields(pid)[1] != me:
                continue
            argv = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if command_word.encode() in argv:
            return int(_stat_fields(pid)[2])
    raise RuntimeError(f"no child process runs {command_word!r}")


def _rss_bytes(pid: int) -> int:
    for line in (_PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie has no VmRSS line


def usage(group: int) -> Usage:
    """Sum RSS and open descriptors over every live process of process group ``group``."""
    processes = rss = fds = 0
    for pid in _pids():
        try:
            if int(_stat_fields(pid)[2]) != group:
                continue
            rss += _rss_bytes(pid)
            fds += len(os.listdir(_PROC / str(pid) / "fd"))
        except (OSError, ValueError):
            continue  # the process ended while being read
        processes += 1
    return Usage(processes, rss, fds)


def capture_files(capture_root: Path) -> int:
    """How many capture files the endpoint has written so far."""
    return sum(1 for _ in capture_root.rglob("*.jsonl")) if capture_root.exists() else 0


def _answering_version(url: str, body: bytes) -> str:
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as reply:
        return str(reply.headers["x-driftloop-model-version"])


def wait_for_versions(
    url: str, body: bytes, expected: set[str], timeout_s: float, probes: int = 30
) -> float | None:
    """Seconds until ``probes`` requests, each on a new connection (so either worker may take
    it), are answered by exactly the model versions in ``expected``; None if that never happens
    or a probe is not answered with a 200."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            seen = {_answering_version(url, body) for _ in range(probes)}
        except (urllib.error.URLError, OSError):
            return None
        if seen == expected:
            return time.monotonic() - start
        time.sleep(0.2)
    return None
