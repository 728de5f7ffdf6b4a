"""What the pages read: the workspace's stores through the backend contracts, and a snapshot
of the event stream that a background thread keeps fresh, so no page waits for a long log."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Iterable
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
SETTLE_EVERY = 10_000
"""Events read since the last :meth:`LoopView.settle` that make the refresh settle again: a
full garbage collection then walks at most about this many events (some 40 ms)."""


@dataclass
class EventSnapshot:
    """Every event read at ``read_at`` (oldest first), lines that were not events, and why
    reading failed, if it did."""

    events: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    read_at: float = 0.0
    error: str | None = None
    _derived: dict[str, tuple[frozenset[str], Any]] = field(default_factory=dict, repr=False)

    @cached_property
    def by_type(self) -> dict[str, list[dict[str, Any]]]:
        grouped: dict[str, list[dict[str, Any]]] = {}
        for event in self.events:
            grouped.setdefault(str(event.get("detail-type", "")), []).append(event)
        return grouped

    def derived(self, key: str, kinds: Iterable[str], compute: Callable[[EventSnapshot], T]) -> T:
        """``compute(self)``, a page's summary of the events of detail-types ``kinds`` (such
        as the deployments grouped from their steps), worked out once and kept by the next
        snapshots until an event of those kinds arrives."""
        if key not in self._derived:
            self._derived[key] = (frozenset(kinds), compute(self))
        return self._derived[key][1]  # type: ignore[no-any-return]

    def extended(self, events: list[dict[str, Any]], problems: list[str]) -> EventSnapshot:
        """This snapshot with ``events`` and ``problems`` appended, read now: its groups by
        type and its summaries are carried over, redone only for the kinds that grew."""
        grown = EventSnapshot(self.events + events, self.problems + problems, time.time())
        added: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            added.setdefault(str(event.get("detail-type", "")), []).append(event)
        if "by_type" in self.__dict__:  # already grouped: only the kinds that grew change
            grouped = dict(self.by_type)
            for kind, more in added.items():
                grouped[kind] = grouped.get(kind, []) + more
            grown.__dict__["by_type"] = grouped
        grown._derived = {k: v for k, v in self._derived.items() if v[0].isdisjoint(added)}
        return grown

    def last(self, detail_type: str, endpoint: str) -> dict[str, Any] | None:
        """The newest event of one detail-type of one endpoint, if any."""
        found: list[dict[str, Any]] = self.by_type.get(detail_type, [])
        return next((e for e in reversed(found) if _detail(e).get("endpoint") == endpoint), None)

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
        self.reads = 0
        """How many times the event stream was read (a whole read or what was appended)."""
        self.settles = 0
        """How many times :meth:`settle` ran."""
        self._unsettled = 0
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

    def settle(self) -> None:
        """Collect garbage once, then keep every object alive now (the event snapshot, the
        imported modules) out of the garbage collector's sight. A full collection walked every
        event of a long stream (400 ms for 100k events) and stalled whichever page ran at that
        moment; after this it walks only what is newer. The warm-up settles once, then the
        refresh settles again each time :data:`SETTLE_EVERY` more events were read."""
        gc.collect(1 if self.settles else 2)
        gc.freeze()
        self.settles, self._unsettled = self.settles + 1, 0

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
            if self.settles and self._unsettled >= SETTLE_EVERY:
                self.settle()
            # a long stream read whole is read less often, so the console never keeps a
            # core busy
            self._pause = max(self.refresh_s, 3 * took)

    _pause = 2.0

    def _read_events(self) -> EventSnapshot:
        with self._reading:
            self.reads += 1
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
            self._unsettled += len(events)
        except OSError as exc:
            self._offset = 0  # read it all again next time
            return EventSnapshot([], [], time.time(), f"{type(exc).__name__}: {exc}")
        if last is not None and last.error is None:
            return last.extended(events, problems) if events or problems else last
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
        self._unsettled += len(events)
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
