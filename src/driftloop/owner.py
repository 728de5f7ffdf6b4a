"""Which process owns a piece of long-running work, and whether that process still runs.

An owner is (host, pid, start time): a pid the kernel later gave to another process is not the
owner. The start time is the process's start in clock ticks since boot (``/proc/<pid>/stat``,
field 22); where ``/proc`` is missing, only the pid is compared.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Owner:
        return cls(str(raw["host"]), int(raw["pid"]), raw.get("started"))

    def __str__(self) -> str:
        return f"process {self.pid} on {self.host}"


def current() -> Owner:
    """This process."""
    pid = os.getpid()
    return Owner(socket.gethostname(), pid, _start_ticks(pid))


def alive(owner: Owner) -> bool | None:
    """Whether the owner still runs; None when it is on another host (nobody here can tell)."""
    if owner.host != socket.gethostname():
        return None
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        pass
    started = _start_ticks(owner.pid)
    return owner.started is None or started is None or started == owner.started


def _start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces; the fields after its ")" are plain
    return int(stat.rsplit(")", 1)[1].split()[19])
