"""The live half of the loop benchmark: a workspace with v1, the real endpoint and the agent,
then per window the traffic, its late labels, one monitoring run and the wait for the retrain
and the roll-out that run starts."""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftloop.agent import Agent
from driftloop.config import DemoSettings, Settings, load_settings
from driftloop.config_file import toml_value
from driftloop.data.generator import generate
from driftloop.data.spec import TabularSpec
from driftloop.demo.config import ENDPOINT, ERROR_ALARM, LATENCY_ALARM, demo_toml
from driftloop.demo.endpoint import EndpointProcess, start_endpoint
from driftloop.demo.report import DemoReport
from driftloop.demo.traffic import Traffic
from driftloop.demo.training import train_first_model
from driftloop.events.log import read_events
from driftloop.monitoring.job import run_monitoring
from driftloop.monitoring.target import resolve_target
from driftloop.registry.base import APPROVED

Say = Callable[[str], None]
LABEL_DELAY_S = 2.0  # each label reaches /labels this late, as in the demo
RETRAIN_TIMEOUT_S = 300.0
WORKERS = 2
RETRAIN_ENDS = ("Retraining Completed", "Retraining Skipped", "Retraining Failed")
GUARDRAILS = (LATENCY_ALARM, ERROR_ALARM)  # the demo's: a slow or failing new variant rolls back

# Only what compressed time needs differs from driftloop's defaults.
_TOML = """\
# The loop benchmark's configuration. One window stands for one monitoring interval, so the
# time-based limits are scaled to compressed time; every other key keeps driftloop's default.
[serving]
metrics_flush = "1s"
config_poll = "200ms"

[agent]
tick = "1s"

[retrain]
cooldown = "PT0S"
max_per_day = 100000
deploy = true

[deploy]
bake = "{bake_s:g}s"
poll = "PT1S"
alarms = {alarms}
"""


@dataclass(frozen=True)
class Window:
    """One monitoring interval of traffic from the generator."""

    number: int
    phase: str  # "undrifted", "gradual", "sustained" or "sudden"
    scenario: str
    strength: float
    seed: int
    onset: bool = False  # the first window of a drift episode

    @property
    def drifted(self) -> bool:
        return self.phase != "undrifted"

    @property
    def label(self) -> str:
        return "none" if not self.drifted else f"{self.scenario} {self.strength:g}"


@dataclass
class WindowRun:
    """What the loop did in one window."""

    window: Window
    csv: Path
    since: datetime
    until: datetime
    sent: int = 0
    failed: int = 0
    served_version: int = 0
    status: str = ""
    violations: int = 0
    drifted_columns: list[str] = field(default_factory=list)
    retrain: dict[str, Any] | None = None  # the retrain's last event: type and detail
    rollout: dict[str, Any] | None = None  # the roll-out's settling step
    seconds: float = 0.0


@dataclass
class Loop:
    """A running loop: settings, the endpoint process and the agent thread."""

    settings: Settings
    server: EndpointProcess
    agent: Agent
    spec: TabularSpec


def bench_toml(bake_s: float) -> str:
    """``driftloop.toml``: the compressed-time keys and the demo's two guardrail alarms."""
    alarms = [a for a in tomllib.loads(demo_toml(DemoSettings()))["alarms"]]
    guardrails = [a for a in alarms if a["AlarmName"] in GUARDRAILS]
    tables = [
        "\n".join(["[[alarms]]", *(f"{key} = {toml_value(v)}" for key, v in alarm.items())])
        for alarm in guardrails
    ]
    head = _TOML.format(bake_s=bake_s, alarms=toml_value(list(GUARDRAILS)))
    return "\n".join([head, *tables]) + "\n"


def prepare(folder: Path, rows: int, seed: int, bake_s: float) -> Settings:
    """The workspace's config and settings; v1's data comes from ``rows`` and ``seed``."""
    config = folder / "driftloop.toml"
    config.write_text(bench_toml(bake_s))
    overrides = {"rows": rows, "seed": seed, "workers": WORKERS}
    return load_settings(config, home=folder / ".driftloop", demo=overrides)


def train_v1(settings: Settings, folder: Path, say: Say) -> None:
    """The demo's first act: generate, the training pipeline, v1 on endpoint ``churn``."""
    train_first_model(settings, DemoReport(folder=folder), say, ENDPOINT)


def retrain_rules(settings: Settings) -> list[str]:
    """Names of the configured rules with a retrain target (the agent puts them at start)."""
    return [
        rule["name"]
        for rule in settings.rules
        if any(target.get("type") == "retrain" for target in rule.get("targets", []))
    ]


@contextmanager
def running_loop(settings: Settings, folder: Path) -> Iterator[Loop]:
    """The endpoint process and the agent thread; both stop on the way out."""
    config = folder / "driftloop.toml"
    log = folder / "endpoint.log"
    server = start_endpoint(ENDPOINT, config, settings.workspace.root, WORKERS, log)
    agent, stop = Agent(settings), threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), name="agent", daemon=True)
    try:
        server.wait_ready()
        thread.start()
        yield Loop(settings, server, agent, resolve_target(settings, ENDPOINT).spec)
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(120)
        server.stop()


def run_window(loop: Loop, window: Window, rows: int, data: Path, say: Say) -> WindowRun:
    """Send the window's rows, flush their labels, monitor exactly that window, then wait for
    the retrain the run triggers and any roll-out it starts."""
    started = time.monotonic()
    settings, spec = loop.settings, loop.spec
    frame = generate(rows, window.seed, window.scenario, window.strength)
    csv = data / f"window-{window.number:02d}.csv"
    frame.to_csv(csv, index=False)
    client = Traffic(loop.server.url, spec.target, spec.positive_label, LABEL_DELAY_S)
    since = datetime.now(UTC).replace(microsecond=0)
    try:
        sent = client.send(frame[[*spec.features, spec.target]])
        client.flush_labels()
    finally:
        client.close()
    # Capture times are whole seconds: a whole-second end holds the last answer, and the
    # next window, which starts at or after it, shares no second with this one.
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    result = WindowRun(window, csv, since, until, sent=sent, failed=len(client.failures()))
    skip, before = _event_count(settings), loop.agent.rollouts.get(ENDPOINT)
    run = run_monitoring(settings, ENDPOINT, since, until)
    summary = run.summary()
    result.status, result.violations = run.status, len(run.violations)
    result.served_version, result.drifted_columns = run.version, summary["drifted_columns"]
    say(f"window {window.number}: {sent} requests, {run.status} ({result.violations} violations)")
    if run.violations:
        trigger = _monitoring_event(settings, skip, str(run.folder))
        result.retrain = _wait_retrain(settings, skip, trigger)
        result.rollout = _wait_rollout(loop, skip, result.retrain, before)
    _sleep_until(until)  # the next window starts after this one's end
    result.seconds = time.monotonic() - started
    return result


def _event_count(settings: Settings) -> int:
    return sum(1 for _ in read_events(settings.workspace))


def _new_events(settings: Settings, skip: int) -> list[dict[str, Any]]:
    return list(read_events(settings.workspace))[skip:]


def _monitoring_event(settings: Settings, skip: int, folder: str) -> str | None:
    """The id of the "Monitoring Run Completed" event of the run written to ``folder``."""
    for event in _new_events(settings, skip):
        completed = event["detail-type"] == "Monitoring Run Completed"
        if completed and event["detail"].get("folder") == folder:
            return str(event["id"])
    return None


def _wait_retrain(settings: Settings, skip: int, trigger: str | None) -> dict[str, Any]:
    """The retrain's closing event for ``trigger`` (Completed, Skipped or Failed)."""

    def done() -> dict[str, Any] | None:
        for event in _new_events(settings, skip):
            detail = event["detail"]
            if event["detail-type"] in RETRAIN_ENDS and detail.get("trigger") == trigger:
                return {"type": event["detail-type"], **detail}
        return None

    found = _wait(done, RETRAIN_TIMEOUT_S)
    return found or {"type": "no retrain", "reason": f"none within {RETRAIN_TIMEOUT_S:g} s"}


def _wait_rollout(
    loop: Loop, skip: int, retrain: dict[str, Any], before: threading.Thread | None
) -> dict[str, Any] | None:
    """The settling step of the roll-out of a passing challenger; None when none starts.
    ``before`` is the agent's roll-out thread before the window: a newer one that ended
    without a settling step failed."""
    passed = retrain.get("gate_passed") and retrain.get("approval") == APPROVED
    if retrain["type"] != "Retraining Completed" or not passed:
        return None
    version, settings = retrain["version"], loop.settings

    def done() -> dict[str, Any] | None:
        for event in _new_events(settings, skip):
            detail = event["detail"]
            step = detail.get("step") if event["detail-type"] == "Deployment Step" else None
            if detail.get("version") == version and step in ("completed", "rolled_back"):
                return dict(detail)
        thread = loop.agent.rollouts.get(ENDPOINT)
        if thread is not None and thread is not before and not thread.is_alive():
            return {"step": "failed", "reason": "the roll-out ended without a settling step"}
        return None

    timeout = 4 * settings.deploy.bake.total_seconds() + 120
    return _wait(done, timeout) or {"step": "timeout", "reason": f"not settled in {timeout:g} s"}


def _wait(check: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    return None


def _sleep_until(moment: datetime) -> None:
    time.sleep(max((moment - datetime.now(UTC)).total_seconds(), 0.0))
