"""``driftloop agent``: one long-running process for alarms, scheduled monitoring and events.

Every tick it rolls back deployments whose process died, evaluates each alarm (publishing state
changes as events and to the alarm's topics), starts scheduled monitoring runs that are due,
and delivers new events to the targets of matching rules. Nothing in a tick can stop the
agent: failures are logged (and dead-lettered by the delivery layer). State lives in the
workspace, so a restart repeats no delivered action. With ``[retrain] deploy = true`` a passing
challenger is rolled out in a background thread; stopping the agent interrupts it, which rolls
the endpoint back to its previous config.

What a SIGKILL leaves half-done is taken over by the next agent's first tick: a deployment is
rolled back, or completed if its final config was saved (:mod:`driftloop.deploy.journal`),
and a claimed retrain is carried out once
(:func:`~driftloop.retraining.retrain.resume_retrains`). Wall-clock windows come from the
agent's clock and intervals from its monotonic side, so a jump of the wall clock neither
repeats nor stops alarms and schedules (:mod:`driftloop.alarms.jump_hold`,
:class:`~driftloop.monitoring.schedule.Cadence`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from driftloop.alarms.clock import Clock, SystemClock
from driftloop.alarms.definition import parse_alarm
from driftloop.alarms.jump_hold import JumpHold
from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.deploy.journal import recover
from driftloop.errors import StoreUnavailable
from driftloop.events.handlers import default_handlers
from driftloop.monitoring.schedule import Cadence, run_locked
from driftloop.retraining.retrain import (
    RetrainOutcome,
    endpoint_of,
    resume_retrains,
    retrain,
    roll_out,
)

log = logging.getLogger("driftloop.agent")
PRUNE_EVERY = timedelta(hours=1)


class AgentStopping(Exception):
    """Raised inside a background roll-out when the agent stops."""


@dataclass
class _Schedule:
    endpoint: str
    cadence: Cadence
    running: threading.Thread | None = field(default=None)


class Agent:
    """Alarms, monitoring schedules and event delivery for one workspace."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        ws = settings.workspace
        backends = Backends.from_settings(settings)
        self.metrics, self.alarms = backends.metrics, backends.alarms
        self.endpoints, self.registry = backends.endpoints, backends.registry
        self.notifier = backends.notifier
        self.events = backends.events
        self.handlers = default_handlers(ws, self.notifier, self._retrain)
        for raw in settings.alarms:
            self.alarms.put(parse_alarm(raw))
        for rule in settings.rules:
            backends.rules.put(rule)
        self._pruned: float | None = None  # monotonic seconds
        self._stopping = threading.Event()
        self.rollouts: dict[str, threading.Thread] = {}
        self.hold = JumpHold(self.clock)
        now, mono = self.clock.now(), self.clock.monotonic()
        self.schedules = [
            _Schedule(s.endpoint, Cadence(s.every, now, mono))
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
            self.tick()
            stop.wait(self.settings.agent.tick.total_seconds())
        for schedule in self.schedules:
            if schedule.running is not None:
                schedule.running.join(timeout=5)
        for rollout in self.rollouts.values():
            rollout.join(timeout=30)
        log.info("agent stopped")

    def tick(self, now: datetime | None = None) -> None:
        """One pass: recovery, alarms, due monitoring runs, event delivery; never raises.

        ``now`` (default: the clock's) is the wall time windows end at."""
        now = now or self.clock.now()
        for step in (self._recover, self._alarms, self._schedules, self._deliver, self._prune):
            try:
                step(now)
            except StoreUnavailable as exc:  # a locked or damaged file: one line, not a trace
                log.error("agent step %s failed; continuing: %s", step.__name__, exc.message)
            except Exception:
                log.exception("agent step %s failed; continuing", step.__name__)

    def _recover(self, _now: datetime) -> None:
        """Roll back deployments and carry out retrains whose process died mid-way."""
        ws = self.settings.workspace
        for detail in recover(ws, self.endpoints, self.events, registry=self.registry):
            log.warning("settled %s (%s): %s", detail["endpoint"], detail["step"], detail["reason"])
        for endpoint, outcome in resume_retrains(self.settings):
            self._after_retrain(endpoint, outcome)

    def _alarms(self, now: datetime) -> None:
        held = self.hold.held(self.alarms.list)
        if not held:
            self.alarms.evaluate(now)
            return
        for alarm in self.alarms.list():
            if alarm.alarm_name not in held:
                try:
                    self.alarms.evaluate(now, [alarm.alarm_name])
                except Exception:
                    log.exception("alarm %s could not be evaluated", alarm.alarm_name)

    def _schedules(self, now: datetime) -> None:
        mono = self.clock.monotonic()
        for schedule in self.schedules:
            if schedule.running is not None and schedule.running.is_alive():
                continue
            window = schedule.cadence.due(now, mono)
            if window is None:
                continue
            schedule.running = threading.Thread(
                target=self._monitor, args=(schedule.endpoint, *window), daemon=True
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
        self._after_retrain(endpoint, outcome)

    def _after_retrain(self, endpoint: str, outcome: RetrainOutcome) -> None:
        """Log a retrain's outcome and, with ``[retrain] deploy``, roll a passing one out."""
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
        mono = self.clock.monotonic()
        if self._pruned is not None and mono - self._pruned < PRUNE_EVERY.total_seconds():
            return
        keep = timedelta(days=self.settings.agent.metric_retention_days)
        removed = self.metrics.prune(int((now - keep).timestamp()) // 60 * 60)
        self._pruned = mono
        if removed:
            log.info("pruned %d datapoints older than %s", removed, keep)

    def _deliver(self, _now: datetime) -> None:
        report = self.events.deliver_pending(self.handlers)  # rules are read on every tick
        if report.delivered or report.dead_lettered or report.scheduled or report.corrupt:
            log.info("events: %s", report)
