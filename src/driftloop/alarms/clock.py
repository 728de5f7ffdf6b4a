"""The clock alarms and schedules read: wall time for windows, monotonic time for intervals.

Windows (alarm periods, monitoring intervals) are wall-clock times, because datapoints and
captured records are stamped with them; how long ago something happened is measured on the
monotonic clock, which never jumps. Comparing the two tells a jump of the wall clock (an NTP
step, a corrected time zone, a resumed laptop) from time passing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

JUMP_TOLERANCE_S = 5.0
"""A wall clock that moved this much more (or less) than the monotonic one has jumped."""


class Clock(Protocol):
    """Wall time (timezone-aware, UTC) and monotonic seconds."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The host's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class JumpDetector:
    """Tells, reading after reading, whether the wall clock jumped in between."""

    def __init__(
        self, now: datetime, monotonic: float, tolerance_s: float = JUMP_TOLERANCE_S
    ) -> None:
        self.tolerance_s = tolerance_s
        self._last = now.timestamp(), monotonic

    def jumped(self, now: datetime, monotonic: float) -> float:
        """Seconds the wall clock jumped since the previous reading (negative: backwards), or
        0.0 when it moved with the monotonic clock, within the tolerance."""
        wall = now.timestamp()
        last_wall, last_mono = self._last
        self._last = wall, monotonic
        jump = (wall - last_wall) - (monotonic - last_mono)
        return jump if abs(jump) > self.tolerance_s else 0.0
