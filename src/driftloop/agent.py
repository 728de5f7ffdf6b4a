"""``driftloop agent``: one long-running process for alarms, scheduled monitoring and events.

Every tick it rolls back deployments whose process died, evaluates each alarm (publishing state
changes as events and to the alarm's topics), starts scheduled monitoring runs that are due,
and delivers new events to the targets of matching rules. Nothing in a tick can stop the
agent: failures are logged (and dead-lettered by the delivery layer). State lives in the
workspace, so a restart repeats no delivered action. With ``[retrain] deploy = true`` a passing
challenger is rolled out in a background thread; stopping the agent interrupts it, which rolls
the endpoint back to its previous config.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from driftloop.alarms.definition import parse_alarm
from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.deploy.journal import recover
from driftloop.events.handlers import default_handlers
from driftloop.monitoring.schedule import floor_time, run_locked
from driftloop.retraining.retrain import RetrainOutcome, endpoint_of, retrain, roll_out

log = logging.getLogger("driftloop.agent")
PRUNE_EVERY = timedelta(hours=1)


class AgentStopping(Exception):
    """Raised inside a background roll-out when the agent stops."""


@dataclass
class _Schedule:
    endpoint: str
    every: timedelta
    last_end: datetime
    running: threading.Thread | None = field(default=None)


class Agent:
    """Alarms, monitoring schedules and event delivery for one workspace."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        ws = settings.workspace
        backends = Backends.from_settings(settings)
        self.metrics, self.alarms = backends.metrics, backends.alarms
        self.endpoints = backends.endpoints
        self.notifier = backends.notifier
        self.events = backends.events
        self.handlers = default_handlers(ws, self.notifier, self._retrain)
        for raw in settings.alarms:
            self.alarms.put(parse_alarm(raw))
        for rule in settings.rules:
            backends.rules.put(rule)
        self._pruned: datetime | None = None
        self._stopping = threading.Event()
        self.rollouts: dict[str, threading.Thread] = {}
        now = datetime.now(UTC)
        self.schedules = [
            _Schedule(s.endpoint, s.every, floor_time(now, s.every))
            for s in settings.monitoring.schedules
        ]

    def run(self, stop: threading.Event) -> None:
        """Tick until ``stop`` is set; returns within about a second of it (a running roll-out
        is rolled back first)."""
        self._stopping = stop
        log.info(
            "agent started: %d alarm(s), %d schedule(s)",
            len(self.alarms.list()),
            len(self.schedules),
        )
        while not stop.is_set():
            self.tick(datetime.now(UTC))
            stop.wait(self.settings.agent.tick.total_seconds())
        for schedule in self.schedules:
            if schedule.running is not None:
                schedule.running.join(timeout=5)
        for rollout in self.rollouts.values():
            rollout.join(timeout=30)
        log.info("agent stopped")

    def tick(self, now: datetime) -> None:
        """One pass: alarms, due monitoring runs, event delivery; never raises."""
        for step in (self._recover, self._alarms, self._schedules, self._deliver, self._prune):
            try:
                step(now)
            except Exception:
                log.exception("agent step %s failed; continuing", step.__name__)

    def _recover(self, _now: datetime) -> None:
        """Roll back deployments whose process died mid-way (see deploy_journal)."""
        for detail in recover(self.settings.workspace, self.endpoints, self.events):
            log.warning("rolled back %s: %s", detail["endpoint"], detail["reason"])

    def _alarms(self, now: datetime) -> None:
        self.alarms.evaluate(now)

    def _schedules(self, now: datetime) -> None:
        for schedule in self.schedules:
            due = schedule.last_end + schedule.every
            busy = schedule.running is not None and schedule.running.is_alive()
            if now < due or busy:
                continue
            since, schedule.last_end = schedule.last_end, floor_time(now, schedule.every)
            schedule.running = threading.Thread(
                target=self._monitor,
                args=(schedule.endpoint, since, schedule.last_end),
                daemon=True,
            )
            schedule.running.start()

    def _monitor(self, endpoint: str, since: datetime, until: datetime) -> None:
        try:
            run = run_locked(self.settings, endpoint, since, until)
            if run is not None:
                log.info("monitoring %s: %s", endpoint, run.status)
        except Exception:
            log.exception("monitoring %s failed; the schedule goes on", endpoint)

    def _retrain(self, event: dict[str, object]) -> None:
        """A "retrain" target: apply the retraining policy to the event's endpoint."""

        endpoint = endpoint_of(self.settings, event)
        log.info("retrain requested for %s by event %s", endpoint, event.get("id"))
        outcome = retrain(self.settings, endpoint, event=event)
        log.info("retrain of %s: %s (%s)", endpoint, outcome.status, outcome.reason)
        if self.settings.retrain.deploy and outcome.status == "retrained":
            running = self.rollouts.get(endpoint)
            if running is not None and running.is_alive():
                log.warning("a roll-out to %s is running; v%s waits", endpoint, outcome.version)
                return
            thread = threading.Thread(
                target=self._roll_out, args=(endpoint, outcome), name=f"rollout-{endpoint}"
            )
            self.rollouts[endpoint] = thread
            thread.start()

    def _roll_out(self, endpoint: str, outcome: RetrainOutcome) -> None:
        try:
            result = roll_out(self.settings, endpoint, outcome, sleep=self._sleep)
        except Exception:
            log.exception("roll-out of v%s to %s failed (rolled back)", outcome.version, endpoint)
            return
        if result is not None:
            log.info("roll-out of v%s to %s: %s", result.version, endpoint, result.reason)

    def _sleep(self, seconds: float) -> None:
        """A deployment's bake wait; raises once the agent is stopping, which rolls it back."""
        if self._stopping.wait(seconds):
            raise AgentStopping("the agent is stopping")

    def _prune(self, now: datetime) -> None:
        if self._pruned is not None and now - self._pruned < PRUNE_EVERY:
            return
        keep = timedelta(days=self.settings.agent.metric_retention_days)
        removed = self.metrics.prune(int((now - keep).timestamp()) // 60 * 60)
        self._pruned = now
        if removed:
            log.info("pruned %d datapoints older than %s", removed, keep)

    def _deliver(self, _now: datetime) -> None:
        report = self.events.deliver_pending(self.handlers)  # rules are read on every tick
        if report.delivered or report.dead_lettered or report.scheduled or report.corrupt:
            log.info("events: %s", report)
