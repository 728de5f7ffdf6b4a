"""Appending to a JSON Lines file that several processes share, and that a crash may have torn.

Each append is one ``O_APPEND`` write of whole lines, so appends from several processes never
interleave. A process killed mid-write (or a full disk) can leave a last line without its
newline; the next append then starts with a newline, so the torn line stays one bad line that
readers report, and the new lines stay readable. (Two appends racing past the same torn line
leave an empty line, which readers pass over.)
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


def append_lines(path: Path, payload: bytes) -> None:
    """Append ``payload`` (whole lines, each ending in a newline) to ``path`` in one write;
    :class:`OSError` when the disk took only part of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            payload = b"\n" + payload
        if os.write(fd, payload) < len(payload):
            raise OSError(errno.ENOSPC, "only part of the lines were written", str(path))
    finally:
        os.close(fd)
