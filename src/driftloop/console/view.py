"""What the pages read: the workspace's stores through the backend contracts, and a snapshot
of the event stream that a background thread keeps fresh, so no page waits for a long log."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.errors import DriftloopError
from driftloop.events.log import event_log, scan

log = logging.getLogger(__name__)
T = TypeVar("T")

MONITORING_DONE = "Monitoring Run Completed"
DEPLOYMENT_STEP = "Deployment Step"
ALARM_CHANGE = "CloudWatch Alarm State Change"


@dataclass
class EventSnapshot:
    """Every event read at ``read_at`` (oldest first), lines that were not events, and why
    reading failed, if it did."""

    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    read_at: float = 0.0
    error: str | None = None

    @cached_property
    def by_type(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for event in self.events:
            grouped.setdefault(str(event.get("detail-type", "")), []).append(event)
        return grouped

    def of_type(self, detail_type: str, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Events of one detail-type (of one endpoint, when named), oldest first."""
        found = self.by_type.get(detail_type, [])
        if endpoint is None:
            return found
        return [e for e in found if _detail(e).get("endpoint") == endpoint]


def _detail(event: dict[str, Any]) -> dict[str, Any]:
    detail = event.get("detail")
    return detail if isinstance(detail, dict) else {}


class LoopView:
    """The stores of one workspace for the console; safe to share between requests."""

    def __init__(self, settings: Settings, *, refresh_s: float = 2.0) -> None:
        self.settings = settings
        self.stores = Backends.from_settings(settings)
        self.refresh_s = refresh_s
        self._snapshot: EventSnapshot | None = None
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._log = event_log(settings.workspace) if settings.backend.kind == "local" else None
        """The local event log, read incrementally: a refresh parses only what was appended."""
        self._offset = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.periods: dict[tuple[Any, ...], Any] = {}
        """Values of metric periods that can no longer change, so a page re-reads only the
        newest datapoints (see :func:`driftloop.console.traffic.series`)."""

    @property
    def model_name(self) -> str:
        return self.settings.registry.model_name

    def events(self) -> EventSnapshot:
        """The latest snapshot of the event stream (read now if none was read yet)."""
        with self._lock:
            if self._snapshot is None:
                self._snapshot = self._read_events()
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._refresh_loop, name="console-events", daemon=True
                )
                self._thread.start()
            return self._snapshot

    def close(self) -> None:
        """Stop refreshing the event snapshot."""
        self._stop.set()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.refresh_s if self._log is not None else self._pause):
            started = time.perf_counter()
            snapshot = self._read_events()
            snapshot.by_type  # grouped here, not by the next page  # noqa: B018
            took = time.perf_counter() - started
            with self._lock:
                self._snapshot = snapshot
            # a long stream read whole is read less often, so the console never keeps a
            # core busy
            self._pause = max(self.refresh_s, 3 * took)

    _pause = 2.0

    def _read_events(self) -> EventSnapshot:
        with self._reading:
            if self._log is not None:
                return self._read_appended(self._log)
            return self._read_all()

    def _read_appended(self, path: Path) -> EventSnapshot:
        """The previous snapshot and the lines appended since (the same snapshot when none
        were); the whole log again when it shrank (replaced)."""
        last = self._snapshot
        try:
            if last is not None and path.is_file() and path.stat().st_size < self._offset:
                last, self._offset = None, 0
            events: list[dict[str, Any]] = []
            problems: list[str] = []
            for line in scan(path, self._offset):
                if line.event is not None:
                    events.append(line.event)
                else:
                    problems.append(line.describe())
                self._offset = line.end
        except OSError as exc:
            self._offset = 0  # read it all again next time
            return EventSnapshot([], [], time.time(), f"{type(exc).__name__}: {exc}")
        if last is not None and last.error is None:
            if not events and not problems:
                return last
            events, problems = last.events + events, last.problems + problems
        return EventSnapshot(events, problems, time.time())

    def _read_all(self) -> EventSnapshot:
        problems: list[str] = []
        try:
            events = list(self.stores.events.read_events(problems))
        except DriftloopError as exc:
            return EventSnapshot([], problems, time.time(), exc.message)
        except Exception as exc:  # an unreadable log must not take every page down
            log.exception("reading the event stream failed")
            return EventSnapshot([], problems, time.time(), f"{type(exc).__name__}: {exc}")
        return EventSnapshot(events, problems, time.time())


def attempt(what: str, read: Callable[[], T]) -> tuple[T | None, str | None]:
    """``(value, None)``, or ``(None, one sentence)`` when ``read`` fails: a page shows the
    sentence where the part would be, never a stack trace."""
    try:
        return read(), None
    except DriftloopError as exc:
        return None, f"{what} could not be read: {exc.message}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{what} could not be read: {type(exc).__name__}: {exc}"
    except Exception:
        log.exception("reading %s failed", what)
        return None, f"{what} could not be read (the console's log has the details)"
