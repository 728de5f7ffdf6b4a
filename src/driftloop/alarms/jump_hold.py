"""Alarms hold their state while a jump of the wall clock lies inside their evaluation range.

After a jump forward the periods the clock skipped hold no datapoints, and after a jump back
the periods it repeats hold datapoints from before the jump; judged as they are, an alarm would
leave its state for one range and come back, announcing the same state twice. So an alarm is
not evaluated until its whole evaluation range (plus the period in progress) lies after the
jump, measured on the monotonic clock: a bounded pause, never one as long as the jump.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from driftloop.alarms.clock import Clock, JumpDetector
from driftloop.alarms.definition import AlarmDefinition

log = logging.getLogger(__name__)


class JumpHold:
    """Which alarms hold their state because of a recent jump of the wall clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.detector = JumpDetector(clock.now(), clock.monotonic())
        self._until: dict[str, float] = {}  # alarm name -> monotonic seconds

    def held(self, alarms: Callable[[], Iterable[AlarmDefinition]]) -> set[str]:
        """Names of the alarms to leave unevaluated now; ``alarms`` is read only after a jump."""
        now = self.clock.monotonic()
        jump = self.detector.jumped(self.clock.now(), now)
        if jump:
            for alarm in alarms():
                span = (alarm.evaluation_periods + 1) * alarm.period
                self._until[alarm.alarm_name] = max(
                    self._until.get(alarm.alarm_name, 0), now + span
                )
            log.warning("the wall clock jumped %+.0f s; alarms hold their state meanwhile", jump)
        self._until = {name: until for name, until in self._until.items() if until > now}
        return set(self._until)
