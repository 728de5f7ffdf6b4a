"""Run a monitoring job on a schedule, in one long-running process.

Each tick monitors the interval that just ended. A failing run is logged and the schedule goes
on; a lock file per endpoint and variant keeps two runs of the same job from overlapping, also
across processes. Intervals go down to one minute (Model Monitor's shortest is one hour).

A :class:`Cadence` decides when a run is due and which window it reads. A run that took longer
than its interval is caught up one interval at a time; a jump of the wall clock neither repeats
runs nor stops them: a jump forward gives one run over the whole gap, and after a jump backward
runs go on every interval of elapsed (monotonic) time, each reading the last complete interval
by the clock's new reading.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from driftloop.alarms.clock import Clock, JumpDetector, SystemClock
from driftloop.config import Settings
from driftloop.errors import DriftloopError
from driftloop.monitoring.job import MonitoringRun, run_monitoring

log = logging.getLogger(__name__)


@contextmanager
def job_lock(folder: Path, name: str) -> Iterator[bool]:
    """Yield True while holding the job's lock, False if another run holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / f".{name}.lock", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def run_locked(
    settings: Settings,
    endpoint: str,
    since: datetime,
    until: datetime,
    *,
    variant: str | None = None,
    schedule: str | None = None,
) -> MonitoringRun | None:
    """One run, unless the same job is already running (then None)."""
    name = f"{endpoint}-{variant or 'default'}"
    with job_lock(settings.workspace.monitoring, name) as held:
        if not held:
            log.warning("monitoring %s is still running; skipping this tick", name)
            return None
        return run_monitoring(settings, endpoint, since, until, variant=variant, schedule=schedule)


class Cadence:
    """When a scheduled run is due and the window ``[since, until)`` it monitors."""

    def __init__(self, every: timedelta, now: datetime, monotonic: float) -> None:
        self.every = every
        self.last_end = floor_time(now, every)
        """End of the last window monitored (wall clock, a multiple of ``every``)."""
        self.last_run = monotonic
        """When the last run started (monotonic seconds)."""
        self._jumps = JumpDetector(now, monotonic)

    def due(self, now: datetime, monotonic: float) -> tuple[datetime, datetime] | None:
        """The window to monitor now, moving the cadence past it; None when nothing is due.

        Due once a whole interval ended after the last window on the wall clock (the next
        interval; right after a jump forward, one window over the gap); or, when the wall clock
        reads earlier than the last window's end, once an interval of monotonic time passed
        (the last complete interval).
        """
        end = floor_time(now, self.every)
        jumped = self._jumps.jumped(now, monotonic) > 0
        if end >= self.last_end + self.every:
            window = self.last_end, (end if jumped else self.last_end + self.every)
        elif end < self.last_end and monotonic - self.last_run >= self.every.total_seconds():
            window = end - self.every, end
        else:
            return None
        self.last_end, self.last_run = window[1], monotonic
        return window

    def wait_s(self, now: datetime, monotonic: float) -> float:
        """Seconds until :meth:`due` may give a window (at most one interval)."""
        every = self.every.total_seconds()
        if floor_time(now, self.every) < self.last_end:  # the wall clock went back
            left = self.last_run + every - monotonic
        else:
            left = (self.last_end + self.every - now).total_seconds()
        return min(max(left, 0.0), every)


def run_schedule(
    settings: Settings,
    endpoint: str,
    every: timedelta,
    *,
    stop: threading.Event,
    on_run: Callable[[MonitoringRun], None] | None = None,
    variant: str | None = None,
    schedule: str | None = None,
    clock: Clock | None = None,
) -> int:
    """Tick every ``every`` until ``stop`` is set; returns how many runs completed."""
    clock = clock or SystemClock()
    completed = 0
    cadence = Cadence(every, clock.now(), clock.monotonic())
    while not stop.is_set():
        window = cadence.due(clock.now(), clock.monotonic())
        if window is None:
            stop.wait(max(cadence.wait_s(clock.now(), clock.monotonic()), 0.05))
            continue
        since, until = window
        try:
            run = run_locked(settings, endpoint, since, until, variant=variant, schedule=schedule)
        except DriftloopError as exc:
            log.error("monitoring %s failed: %s", endpoint, exc.message)
            continue
        except Exception:
            log.exception("monitoring %s failed", endpoint)
            continue
        if run is not None:
            completed += 1
            log.info("monitoring %s: %s", endpoint, run.summary())
            if on_run:
                on_run(run)
    return completed


def floor_time(moment: datetime, every: timedelta) -> datetime:
    """The latest multiple of ``every`` (since the epoch) at or before ``moment``."""
    seconds = int(every.total_seconds())
    return datetime.fromtimestamp(int(moment.timestamp()) // seconds * seconds, tz=UTC)
