"""Load at a fixed rate with wrk: each wrk thread hands out send slots on a steady clock.

wrk has no rate option (wrk2 has, but is not packaged), so the POST script gets a ``delay()``
that makes each request wait for its slot; a thread that falls more than a second behind
drops the missed slots instead of bursting to catch up.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import _wrk
from _wrk import WrkResult

_PACE = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} soak_timespec;
int clock_gettime(int clock, soak_timespec *ts);
]]
local clock = ffi.new("soak_timespec")
local interval_ms = {interval_ms!r}
local next_ms = nil

local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

function delay()
  local now = now_ms()
  if next_ms == nil or next_ms < now - 1000 then
    next_ms = now
  end
  local wait = next_ms - now
  next_ms = next_ms + interval_ms
  return math.max(0, math.floor(wait))
end
"""


@dataclass(frozen=True)
class Load:
    """Where and how hard to send: ``rate`` requests per second over all threads."""

    wrk: str
    url: str
    script: Path
    connections: int
    threads: int


def paced_script(folder: Path, body: bytes, content_type: str, rate: float, threads: int) -> Path:
    """wrk's POST script for ``body`` with a pacing ``delay()`` for ``rate`` requests/s."""
    script = _wrk.write_script(folder, "soak", body, content_type)
    interval_ms = 1000.0 * threads / rate
    script.write_text(script.read_text() + _PACE.format(interval_ms=round(interval_ms, 4)))
    return script


def capacity(load: Load, seconds: int) -> WrkResult:
    """Unpaced: as many requests as ``load``'s connections get answered in ``seconds``."""
    return _wrk.run(
        load.wrk,
        load.url,
        load.script,
        connections=load.connections,
        threads=load.threads,
        duration_s=seconds,
    )


def start(load: Load, seconds: int) -> subprocess.Popen[str]:
    """Start wrk for ``seconds`` in the background; read it with :func:`finish`."""
    argv = [load.wrk, f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds}s"]
    argv += ["--timeout", "30s", "--latency", "-s", str(load.script), load.url]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str]) -> WrkResult:
    """Wait for a wrk started by :func:`start` and parse its report."""
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {err.strip()}")
    return _wrk.parse(out)
