"""The wall clock jumping an hour forwards or backwards: the agent's alarms and monitoring
schedules neither fire twice nor stop (time comes from an injected clock, moved by the test)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftloop import agent as agent_module
from driftloop.agent import Agent
from driftloop.alarms.clock import JumpDetector
from driftloop.alarms.definition import parse_alarm
from driftloop.backends.catalog import Backends
from driftloop.config import ScheduleSettings, Settings, load_settings
from driftloop.metrics.base import Datapoint
from driftloop.monitoring.schedule import Cadence

HOUR = 3600.0
STEP = 10.0  # the agent's tick, in seconds
START = datetime(2026, 11, 27, 14, 0, 5, tzinfo=UTC)
DIMS = {"EndpointName": "churn"}


class FakeClock:
    """Wall and monotonic time that move only when the test says so."""

    def __init__(self, wall: datetime) -> None:
        self.wall, self.mono = wall, 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        """Time passes."""
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def jump(self, seconds: float) -> None:
        """The wall clock is set ``seconds`` forwards (or back); no time passes."""
        self.wall += timedelta(seconds=seconds)


def test_the_detector_tells_a_jump_from_time_passing() -> None:
    clock = FakeClock(START)
    detector = JumpDetector(clock.now(), clock.monotonic())

    def reading() -> float:
        return detector.jumped(clock.now(), clock.monotonic())

    clock.advance(600)
    assert reading() == 0.0
    clock.advance(10)
    clock.jump(-HOUR)
    assert reading() == -HOUR
    clock.jump(2.0)  # an NTP step of two seconds is not a jump
    assert reading() == 0.0


def test_a_late_cadence_catches_up_one_interval_at_a_time() -> None:
    clock = FakeClock(START)
    cadence = Cadence(timedelta(minutes=1), clock.now(), clock.monotonic())
    clock.advance(185)  # a run (or a retrain in the same tick) held the schedule up
    windows = [cadence.due(clock.now(), clock.monotonic()) for _ in range(4)]
    starts = [START.replace(second=0) + timedelta(minutes=n) for n in range(4)]
    assert windows == [(a, b) for a, b in itertools.pairwise(starts)] + [None]


@pytest.mark.parametrize("jump", [HOUR, -HOUR])
def test_the_cadence_runs_once_per_interval_across_a_jump(jump: float) -> None:
    clock = FakeClock(START)
    cadence = Cadence(timedelta(minutes=1), clock.now(), clock.monotonic())
    windows, ran_at = [], []

    def run_for(seconds: float) -> None:
        for _ in range(int(seconds / STEP)):
            clock.advance(STEP)
            window = cadence.due(clock.now(), clock.monotonic())
            if window is not None:
                windows.append(window)
                ran_at.append(clock.monotonic())

    run_for(600)
    before = len(windows)
    clock.jump(jump)
    run_for(600)
    caught_up = 1 if jump > 0 else 0  # a jump forward: the window over the gap, at once
    assert before == 10 and len(windows) in (19 + caught_up, 20 + caught_up)
    gaps = [b - a for a, b in itertools.pairwise(ran_at)]
    assert max(gaps) <= 70  # never a stall
    short = [gap for gap in gaps if gap < 60]  # only the catch-up run, inside a regular minute
    assert len(short) == 2 * caught_up and sum(short) == 60 * caught_up
    assert len(set(windows)) == len(windows)  # no window monitored twice
    assert all(until - since >= timedelta(minutes=1) for since, until in windows)
    if jump > 0:  # one run over the skipped hour, then contiguous windows
        assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
        assert max(until - since for since, until in windows) >= timedelta(hours=1)


def _settings(tmp_path: Path, *, scheduled: bool = False) -> Settings:
    settings = load_settings(home=tmp_path / "ws")
    schedules = [ScheduleSettings(endpoint="churn", every="1m")] if scheduled else []
    monitoring = settings.monitoring.model_copy(update={"schedules": schedules})
    return settings.model_copy(update={"monitoring": monitoring})


@pytest.mark.parametrize("jump", [HOUR, -HOUR])
def test_agent_schedules_run_every_minute_across_a_jump(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jump: float
) -> None:
    runs: list[tuple[float, datetime, datetime]] = []
    clock = FakeClock(START)

    def record(_settings: object, _endpoint: str, since: datetime, until: datetime) -> None:
        runs.append((clock.monotonic(), since, until))

    monkeypatch.setattr(agent_module, "run_locked", record)
    agent = Agent(_settings(tmp_path, scheduled=True), clock=clock)

    def tick_for(seconds: float) -> None:
        for _ in range(int(seconds / STEP)):
            clock.advance(STEP)
            agent.tick()
            running = agent.schedules[0].running
            if running is not None:
                running.join(5)

    tick_for(300)
    clock.jump(jump)
    tick_for(300)
    times = [at for at, _, _ in runs]
    caught_up = 1 if jump > 0 else 0  # a jump forward: the window over the gap, at once
    assert len(runs) in (9 + caught_up, 10 + caught_up)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    short = [gap for gap in gaps if gap < 60]  # only the catch-up run, inside a regular minute
    assert max(gaps) <= 70 and len(short) == 2 * caught_up and sum(short) == 60 * caught_up
    assert len({(since, until) for _, since, until in runs}) == len(runs)


def _latency_alarm(settings: Settings) -> None:
    Backends.from_settings(settings).alarms.put(
        parse_alarm(
            {
                "AlarmName": "slow",
                "Namespace": "AWS/SageMaker",
                "MetricName": "ModelLatency",
                "Dimensions": [{"Name": "EndpointName", "Value": "churn"}],
                "Statistic": "Average",
                "Period": 60,
                "EvaluationPeriods": 2,
                "Threshold": 1000,
                "ComparisonOperator": "GreaterThanThreshold",
            }
        )
    )


class _Loop:
    """An agent ticking every ``STEP`` seconds while an endpoint writes latency datapoints."""

    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        self.clock, self.agent = clock, Agent(settings, clock=clock)
        stores = Backends.from_settings(settings)
        self.metrics, self.alarms = stores.metrics, stores.alarms

    def run(self, latency_us: float, seconds: float) -> None:
        for _ in range(int(seconds / STEP)):
            bucket = int(self.clock.now().timestamp()) // 10 * 10
            point = Datapoint(
                "AWS/SageMaker", "ModelLatency", DIMS, bucket, "Microseconds", latency_us, 1,
                latency_us, latency_us,
            )  # fmt: skip
            self.metrics.put_metric_data([point])
            self.clock.advance(STEP)
            self.agent.tick()

    def changes(self) -> list[tuple[str, str]]:
        return [(h.old, h.new) for h in reversed(self.alarms.history("slow"))]


def test_a_steady_alarm_does_not_fire_again_after_a_jump_forward(tmp_path: Path) -> None:
    settings, clock = _settings(tmp_path), FakeClock(START)
    _latency_alarm(settings)
    loop = _Loop(settings, clock)
    loop.run(5000, 300)
    assert loop.changes() == [("INSUFFICIENT_DATA", "ALARM")]
    clock.jump(HOUR)  # the skipped hour holds no datapoints: "missing" would leave ALARM
    loop.run(5000, 600)
    assert loop.changes() == [("INSUFFICIENT_DATA", "ALARM")]


def test_an_alarm_follows_new_data_soon_after_a_jump_back(tmp_path: Path) -> None:
    settings, clock = _settings(tmp_path), FakeClock(START)
    _latency_alarm(settings)
    loop = _Loop(settings, clock)
    loop.run(5000, 300)
    clock.jump(-HOUR)  # the repeated hour holds no datapoints of this endpoint yet
    loop.run(200, 240)  # the endpoint is fast again: OK within the hold and two periods
    assert loop.changes() == [("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]
    loop.run(5000, 240)  # and it keeps being evaluated: slow again is ALARM again
    assert loop.changes()[-1] == ("OK", "ALARM")
