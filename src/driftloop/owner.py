"""Which process owns a piece of long-running work (a pipeline run, a deployment), and
whether that process is gone, so work it left half-done can be taken over safely.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Owner:
    """A process doing long-running work: its pid, its host and when it started.

    The start time (clock ticks since boot, from Linux's ``/proc``; None elsewhere) tells the
    owner apart from a later process the system gave the same pid.
    """

    pid: int
    host: str
    started: int | None

    @classmethod
    def current(cls) -> Owner:
        """This process."""
        return cls(os.getpid(), socket.gethostname(), _start_ticks(os.getpid()))

    @property
    def local(self) -> bool:
        """Whether the owner runs (or ran) on this host; only then can it be checked."""
        return self.host == socket.gethostname()

    def gone(self) -> bool:
        """Whether the owner, on this host, has exited or its pid is now another process.

        False for another host's process: from here it cannot be told apart from a live one.
        """
        if not self.local:
            return False
        if _LINUX:  # the pid's start time also catches a reused pid
            now = _start_ticks(self.pid)
            return now is None or (self.started is not None and now != self.started)
        return not _pid_exists(self.pid)

    def __str__(self) -> str:
        return f"process {self.pid} on {self.host}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Owner:
        started = raw.get("started")
        return cls(int(raw["pid"]), str(raw["host"]), None if started is None else int(started))


# Is the owner still there? Linux answers from /proc/<pid>/stat; other POSIX systems only
# know whether some process has the pid.

_LINUX = sys.platform.startswith("linux")


def _start_ticks(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot; None when Linux's /proc has no
    such live process (not Linux, no such pid, or a zombie: exited but not yet reaped)."""
    if not _LINUX:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2, the command name, is in parentheses and may hold spaces and ")": fields 3 on
    # follow the last ")". Field 3 is the state, field 22 the start time (man 5 proc).
    fields = stat[stat.rindex(")") + 1 :].split()
    state, start = fields[0], fields[22 - 3]
    return None if state in ("Z", "X") else int(start)


def _pid_exists(pid: int) -> bool:
    if os.name != "posix":  # os.kill would terminate the process on Windows: assume it lives
        return True
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        return True
    return True
