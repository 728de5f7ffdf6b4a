"""`driftloop demo`: the whole closed loop on the embedded default, end to end.

v1 is trained and served by a real endpoint process; normal traffic, whose labels arrive late,
passes monitoring. Then the traffic drifts: the next monitoring run flags it, the drift alarm
fires and notifies, the agent's rule retrains, and the passing challenger v2 goes out as a 10%
canary and becomes champion. Last, a deliberately slow challenger is rolled back by its latency
alarm. Nothing here is simulated except the customers.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import pandas as pd

from driftloop.agent import Agent
from driftloop.backends.catalog import Backends
from driftloop.config import Settings
from driftloop.data.generator import generate
from driftloop.data.spec import TabularSpec
from driftloop.demo.config import DRIFT_ALARM, ENDPOINT, TOPIC, prepare
from driftloop.demo.endpoint import EndpointProcess, start_console, start_endpoint
from driftloop.demo.report import DemoReport
from driftloop.demo.timeline import draw_timeline
from driftloop.demo.traffic import Traffic
from driftloop.demo.training import train_first_model
from driftloop.deploy.guarded import DeployPlan, deploy
from driftloop.durations import format_duration
from driftloop.errors import DriftloopError
from driftloop.events.base import EventBus
from driftloop.monitoring.job import MonitoringRun, run_monitoring
from driftloop.monitoring.target import resolve_target
from driftloop.registry.base import CHAMPION
from driftloop.serving.endpoint_config import Fault

Progress = Callable[[str], None]
BAD_DELAY_MS = 60.0  # the slow challenger's injected latency; the alarm's threshold is 20 ms
ALARM_TIMEOUT_S = 60.0
RETRAIN_TIMEOUT_S = 300.0


def run_demo(
    settings: Settings, progress: Progress | None = None, *, keep_serving: bool = False
) -> DemoReport:
    """Run the story in a fresh demo folder; the endpoint stops at the end unless kept."""
    say = progress or (lambda _message: None)
    settings, config = prepare(settings)
    ws = settings.workspace.ensure()
    report = DemoReport(folder=config.parent)
    report.training = train_first_model(settings, report, say, ENDPOINT)
    champion = _champion(settings)
    say(f"starting endpoint {ENDPOINT} (v{champion}) and the agent")
    log = config.parent / "endpoint.log"
    server = start_endpoint(ENDPOINT, config, ws.root, settings.demo.workers, log)
    web: EndpointProcess | None = None
    kept = False
    try:
        with _stopped_by_sigterm():
            server.wait_ready()
            report.endpoint_url, report.endpoint_pid = server.url, server.process.pid
            report.add("endpoint", f"{ENDPOINT} on {server.url}, v{champion}, capture 100%", log)
            web = start_console(config, ws.root, server, config.parent / "console.log")
            web.wait_ready(60)
            report.console_url, report.console_pid = web.url, web.process.pid
            say(f"the console shows the loop live on {web.url}")
            report.add("console", f"on {web.url}, live", web.log)
            with _agent(settings):
                _story(settings, server, report, say)
            kept = keep_serving
            if kept:
                report.serving = [server, web]
    finally:
        if not kept:  # an interrupted or failed demo stops everything it started
            if web is not None:
                web.stop()
            server.stop()
    report.champion = _champion(settings)
    return report


@contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """SIGTERM ends the demo as Ctrl-C does, so what it started is stopped too (main thread
    only: elsewhere signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _story(settings: Settings, server: EndpointProcess, report: DemoReport, say: Progress) -> None:
    demo, spec = settings.demo, resolve_target(settings, ENDPOINT).spec
    positive = spec.positive_label

    def traffic() -> Traffic:
        return Traffic(server.url, spec.target, positive, demo.label_delay.total_seconds())

    bus = Backends.from_settings(settings).events
    client, skip = traffic(), sum(1 for _ in bus.read_events())
    normal = _customers(generate(demo.normal_requests, demo.seed + 1), spec)
    say(f"normal traffic: {len(normal)} requests, labels {format_duration(demo.label_delay)} late")
    report.normal_run = _phase(settings, client, normal, "normal traffic", report, say)

    drifted = generate(demo.drifted_requests, demo.seed + 2, demo.scenario, demo.strength)
    say(f"drifted traffic ({demo.scenario}): {len(drifted)} requests")
    report.mark(time.time(), f"drift starts ({demo.scenario})")
    run = _phase(settings, client, _customers(drifted, spec), "drift", report, say)
    report.drift_run = run

    later = generate(2000, demo.seed + 3, demo.scenario, demo.strength)
    background, stop = traffic(), threading.Event()
    sender = threading.Thread(
        target=background.loop, args=(_customers(later, spec), stop), daemon=True
    )
    sender.start()
    try:
        _alarm_and_retrain(settings, run, report, say)
        _bad_challenger(settings, report, say)
    finally:
        stop.set()
        sender.join(30)
        client.close()
        background.close()
    answers = client.answers + background.answers
    report.requests = len(answers)
    report.failed_requests = sum(1 for answer in answers if answer.status != 200)
    for event in islice(bus.read_events(), skip, None):
        marker = _MARKED.get(event["detail-type"])
        label = marker(event["detail"]) if marker is not None else None
        if label is not None:
            report.mark(_epoch(event["time"]), label)
    plot = settings.workspace.reports / "demo" / "timeline.png"
    draw_timeline(answers, report.marks, plot)
    report.add("traffic", f"{len(answers)} requests, {report.failed_requests} failed", plot)


def _phase(
    settings: Settings,
    client: Traffic,
    frame: pd.DataFrame,
    name: str,
    report: DemoReport,
    say: Progress,
) -> MonitoringRun:
    """Send ``frame``, wait for its labels, then monitor exactly the window it was sent in."""
    since = datetime.now(UTC).replace(microsecond=0)
    client.send(frame)
    labels = client.flush_labels()
    until = datetime.now(UTC) + timedelta(seconds=1)
    say(f"monitoring the {name} window")
    run = run_monitoring(settings, ENDPOINT, since, until, progress=say)
    quality = (run.quality or {}).get("model_quality") or {}
    auc = f", ROC AUC {quality['roc_auc']:.3f} on {labels} late labels" if quality else ""
    drifted = ", ".join(run.summary()["drifted_columns"]) or "none"
    report.add(
        f"monitor: {name}",
        f"{run.status}: {len(run.violations)} violation(s), drifted columns: {drifted}{auc}",
        run.folder / "report.html",
    )
    return run


def _alarm_and_retrain(
    settings: Settings, run: MonitoringRun, report: DemoReport, say: Progress
) -> None:
    """Wait for the drift alarm, the agent's retrain and the roll-out it starts."""
    ws, stores = settings.workspace, Backends.from_settings(settings)
    after, skip = time.time(), sum(1 for _ in stores.events.read_events())
    say(f"waiting for alarm {DRIFT_ALARM}")
    alarms = stores.alarms
    _wait(lambda: alarms.get(DRIFT_ALARM).state == "ALARM" or None, ALARM_TIMEOUT_S, "the alarm")
    report.alarm_after_s = time.time() - after
    notes = ws.notifications / f"{TOPIC}.jsonl"
    report.add(
        "alarm",
        f"{DRIFT_ALARM} went to ALARM {report.alarm_after_s:.0f} s after the run; "
        f"notified topic {TOPIC}",
        notes,
    )
    say("the agent's rule is retraining on the labelled captured traffic")
    retrained = _wait(
        lambda: _event(stores.events, skip, "driftloop.retrain", _RETRAIN_ENDS),
        RETRAIN_TIMEOUT_S,
        "retraining",
    )
    detail = report.retrain = retrained["detail"]
    if retrained["detail-type"] != "Retraining Completed":
        report.add("retrain", f"{retrained['detail-type']}: {detail.get('reason', detail)}")
        return
    old, new = detail["champion_metrics"], detail["challenger_metrics"]
    report.add(
        "retrain",
        f"{detail['reason']}; ROC AUC on recent labelled traffic "
        f"v{run.version} {old['roc_auc']:.3f} -> v{detail['version']} {new['roc_auc']:.3f}",
        settings.workspace.tracking_uri,
    )
    if not detail.get("gate_passed"):
        return
    say(f"canary of v{detail['version']}: {settings.deploy.canary_percent:g}% of traffic bakes")
    bake = settings.deploy.bake.total_seconds()
    step = _wait(
        lambda: _deployment_end(stores.events, skip, detail["version"]),
        4 * bake + 120,
        "the roll-out",
    )
    report.rollout = step
    outcome = f"v{step['version']} is champion" if step["step"] == "completed" else step["reason"]
    report.add("canary roll-out", f"{step['step']} (revision {step['revision']}): {outcome}")


def _bad_challenger(settings: Settings, report: DemoReport, say: Progress) -> None:
    """Deploy v1 slowed by injected latency; the latency alarm must roll it back."""
    slow = 1  # the old champion, Approved, made slow by a fault on its variant
    say(f"deploying a bad challenger: v{slow} with {BAD_DELAY_MS:g} ms of injected latency")
    plan = DeployPlan.from_settings(
        settings.deploy, ENDPOINT, str(slow), fault=Fault(delay_ms=BAD_DELAY_MS)
    )
    started = time.monotonic()
    report.bad = result = deploy(settings, plan)
    after = _champion(settings)
    report.add(
        "bad challenger",
        f"{result.status} after {time.monotonic() - started:.0f} s "
        f"({result.reason.split(':')[0]}); champion still v{after}",
    )


# The timeline's marks: alarms going to ALARM, retraining, and the deployments' main steps.
_MARKED: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "CloudWatch Alarm State Change": lambda d: (
        f"{d['alarmName']} ALARM" if d["state"]["value"] == "ALARM" else None
    ),
    "Retraining Completed": lambda d: f"v{d['version']} trained",
    "Deployment Step": lambda d: (
        f"v{d['version']} {d['step']}" if d["step"] != "all-traffic" else None
    ),
}


def _epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


_RETRAIN_ENDS = ("Retraining Completed", "Retraining Skipped", "Retraining Failed")


def _event(bus: EventBus, skip: int, source: str, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    """The first event from ``source`` of one of ``kinds`` after the first ``skip`` events."""
    for event in islice(bus.read_events(), skip, None):
        if event["source"] == source and event["detail-type"] in kinds:
            return event
    return None


def _deployment_end(bus: EventBus, skip: int, version: int) -> dict[str, Any] | None:
    """The settling step (completed or rolled back) of the deployment of ``version``."""
    for event in islice(bus.read_events(), skip, None):
        detail = event["detail"]
        step = detail.get("step") if event["detail-type"] == "Deployment Step" else None
        if detail.get("version") == version and step in ("completed", "rolled_back"):
            return dict(detail)
    return None


def _wait(check: Callable[[], Any], timeout_s: float, what: str = "the event") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise DriftloopError(f"the demo waited {timeout_s:g} s for {what} in vain")


def _customers(frame: pd.DataFrame, spec: TabularSpec) -> pd.DataFrame:
    """The features a client sends, and the target whose value arrives later as a label."""
    return frame[[*spec.features, spec.target]]


def _champion(settings: Settings) -> int:
    found = Backends.from_settings(settings).registry.get_by_alias(
        settings.registry.model_name, CHAMPION
    )
    if found is None:
        raise DriftloopError("the demo's registry has no champion")
    return found.version


@contextmanager
def _agent(settings: Settings) -> Iterator[Agent]:
    """`driftloop agent` in a thread: alarms, rules and retraining while the story runs."""
    agent, stop = Agent(settings), threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), name="agent", daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        stop.set()
        thread.join(120)
