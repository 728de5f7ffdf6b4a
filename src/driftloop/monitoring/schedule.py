"""Run a monitoring job on a schedule, in one long-running process.

Each tick monitors the interval that just ended. A failing run is logged and the schedule goes
on; a lock file per endpoint and variant keeps two runs of the same job from overlapping, also
across processes. Intervals go down to one minute (Model Monitor's shortest is one hour).
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


def run_schedule(
    settings: Settings,
    endpoint: str,
    every: timedelta,
    *,
    stop: threading.Event,
    on_run: Callable[[MonitoringRun], None] | None = None,
    variant: str | None = None,
    schedule: str | None = None,
) -> int:
    """Tick every ``every`` until ``stop`` is set; returns how many runs completed."""
    completed = 0
    until = floor_time(datetime.now(UTC), every)
    while not stop.is_set():
        next_tick = until + every
        if stop.wait(max(0.0, (next_tick - datetime.now(UTC)).total_seconds())):
            break
        since, until = until, next_tick
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
