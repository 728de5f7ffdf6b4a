"""Evaluate alarms, record their state and announce every change: one watcher for the agent's
tick and for a deployment's bake, so both behave the same."""

from __future__ import annotations

import logging
from datetime import datetime

from driftloop.alarms.base import AlarmStore
from driftloop.alarms.definition import AlarmDefinition, topics
from driftloop.alarms.evaluate import Evaluation, evaluate, state_change_event
from driftloop.events.base import EventBus
from driftloop.metrics.base import MetricStore
from driftloop.notifications.base import Notifier, alarm_message

log = logging.getLogger(__name__)


class AlarmWatcher:
    """Evaluates alarms against the metric store; a state change becomes a "CloudWatch Alarm
    State Change" event and a notification to the alarm's actions for the new state."""

    def __init__(
        self,
        where: str,
        alarms: AlarmStore,
        metrics: MetricStore,
        notifier: Notifier,
        events: EventBus,
    ) -> None:
        """``where`` names the workspace in notification messages."""
        self.where, self.alarms, self.metrics = where, alarms, metrics
        self.notifier, self.events = notifier, events

    def check(self, alarm: AlarmDefinition, now: datetime) -> Evaluation:
        """Evaluate ``alarm`` at ``now``, record the result and announce a change."""
        current = self.alarms.get(alarm.alarm_name)
        result = evaluate(alarm, self.metrics, now, current.state)
        change = self.alarms.set_state(alarm.alarm_name, result)
        if change is not None:
            self._announce(alarm, *change, result.reason, now)
        return result

    def check_all(self, now: datetime) -> dict[str, Evaluation]:
        """Every stored alarm; one that cannot be evaluated is logged and left out."""
        results = {}
        for alarm in self.alarms.list():
            try:
                results[alarm.alarm_name] = self.check(alarm, now)
            except Exception:
                log.exception("alarm %s could not be evaluated", alarm.alarm_name)
        return results

    def _announce(
        self, alarm: AlarmDefinition, old: str, new: str, reason: str, now: datetime
    ) -> None:
        detail = state_change_event(alarm, old, new, reason, now)
        self.events.emit("aws.cloudwatch", "CloudWatch Alarm State Change", detail)
        log.info("alarm %s: %s -> %s (%s)", alarm.alarm_name, old, new, reason)
        if not alarm.actions_enabled:
            return
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions}.get(
            new, alarm.insufficient_data_actions
        )
        subject, message = alarm_message(alarm.alarm_name, old, new, reason, self.where)
        for topic in topics(actions):
            try:
                self.notifier.publish(topic, subject, message, detail)
            except Exception as exc:  # a failed page must not stop the tick or a roll-back
                log.error("alarm %s: notifying topic %s failed: %s", alarm.alarm_name, topic, exc)
                failure = {"topic": topic, "alarmName": alarm.alarm_name, "error": str(exc)}
                self.events.emit("driftloop.notifications", "Notification Failed", failure)
