"""Rules, at-least-once delivery and notifications against real servers on loopback ports."""

from __future__ import annotations

import email
import gc
import json
import mailbox
import socket
import subprocess
import sys
import urllib.error
import warnings
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from driftloop.backends.local._webhook import post_json
from driftloop.backends.local.notifications import TopicNotifier
from driftloop.backends.local.rules import FileRuleStore
from driftloop.config import NotificationSettings, SmtpSettings, Subscription, Topic
from driftloop.errors import ConfigError, NotFoundError, NotificationFailed
from driftloop.events.delivery import Deliverer, DeliveryReport, default_handlers
from driftloop.notifications.base import alarm_message
from driftloop.workspace import Workspace
from tests.servers import free_port
from tests.waiting import wait_until
from tests.workspaces import emit

RECEIVER = Path(__file__).resolve().parents[1] / "webhook_receiver.py"


def _start(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{argv} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        wait_until(listening, 20, interval_s=0.1, what=f"{argv[0]} listening on port {port}")
    except BaseException:
        process.kill()
        raise
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws").ensure()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A real aiosmtpd server storing messages in a Maildir."""
    port, maildir = free_port(), tmp_path / "maildir"
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    process = _start([*argv, "-c", "aiosmtpd.handlers.Mailbox", str(maildir)], port)
    yield port, maildir
    _stop(process)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The webhook receiver script; yields its base URL and the file of received bodies."""
    port, outfile = free_port(), tmp_path / "received.jsonl"
    process = _start([sys.executable, str(RECEIVER), str(port), str(outfile)], port)
    yield f"http://127.0.0.1:{port}", outfile
    _stop(process)


def received(outfile: Path) -> list[dict[str, Any]]:
    if not outfile.is_file():
        return []
    return [json.loads(line) for line in outfile.read_text().splitlines()]


def notifier(
    workspace: Workspace, subscriptions: list[Subscription], port: int = 25
) -> TopicNotifier:
    settings = NotificationSettings(
        topics=[Topic(name="ops", subscriptions=subscriptions)],
        smtp=SmtpSettings(port=port, timeout_s=5),
    )
    return TopicNotifier(settings, workspace)


# --- notifications ---------------------------------------------------------------------------


def test_email_reaches_a_real_smtp_server(workspace: Workspace, smtp: tuple[int, Path]) -> None:
    port, maildir = smtp
    subject, message = alarm_message("latency-p99", "OK", "ALARM", "p99 above 200 ms", "churn-prod")
    sub = Subscription(protocol="email", endpoint="oncall@example.com")
    results = notifier(workspace, [sub], port).publish("ops", subject, message)
    assert [result.ok for result in results] == [True]
    (mail,) = list(mailbox.Maildir(maildir, create=False))
    parsed = email.message_from_bytes(mail.as_bytes())
    assert parsed["Subject"] == 'ALARM: "latency-p99" in churn-prod'
    assert parsed["To"] == "oncall@example.com"
    body = parsed.get_payload(decode=True).decode()
    assert "changed from OK to ALARM" in body and "driftloop models promote" in body


def test_webhook_slack_and_file_with_failures_recorded(
    workspace: Workspace, receiver: tuple[str, Path]
) -> None:
    url, outfile = receiver
    closed = free_port()
    subs = [
        Subscription(protocol="webhook", endpoint=f"http://127.0.0.1:{closed}/hook"),
        Subscription(protocol="email", endpoint="oncall@example.com"),  # refused: closed port
        Subscription(protocol="webhook", endpoint=f"{url}/sns"),
        Subscription(protocol="slack", endpoint=f"{url}/services/T0/B0/secret"),
        Subscription(protocol="webhook", endpoint=f"{url}/fail"),
        Subscription(protocol="file", endpoint="notes/ops.jsonl"),
    ]
    note = notifier(workspace, subs, port=closed)
    with pytest.raises(NotificationFailed) as caught:
        note.publish("ops", "Drift detected", "3 features drifted", detail={"n": 3})
    results = caught.value.results
    assert [result.ok for result in results] == [False, False, True, True, False, True]
    assert "3 of 6" in caught.value.message and "HTTP 500" in caught.value.message
    assert "secret" not in caught.value.message
    sns, slack = received(outfile)
    assert sns["path"] == "/sns"
    assert sns["body"]["Type"] == "Notification"
    assert sns["body"]["TopicArn"].endswith(":ops")
    assert {"MessageId", "Timestamp"} <= set(sns["body"])
    assert (sns["body"]["Subject"], sns["body"]["Message"]) == (
        "Drift detected",
        "3 features drifted",
    )
    assert slack["body"] == {"text": "*Drift detected*\n3 features drifted"}
    (line,) = (workspace.root / "notes" / "ops.jsonl").read_text().splitlines()
    assert json.loads(line)["detail"] == {"n": 3}
    soft = note.publish("ops", "again", "again", strict=False)
    assert sum(not result.ok for result in soft) == 3


def test_unknown_topic_and_bad_subscriptions(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError):
        notifier(workspace, []).publish("nope", "s", "m")
    with pytest.raises(ValueError, match="http"):
        Subscription(protocol="slack", endpoint="hooks.slack.com/x")
    with pytest.raises(ValueError, match="unique"):
        NotificationSettings(topics=[Topic(name="a"), Topic(name="a")])


# --- rules and delivery ----------------------------------------------------------------------


class Recorder:
    """A handler that records calls and fails for chosen topics a chosen number of times."""

    def __init__(self, failures: dict[str, int] | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.failures = dict(failures or {})

    def __call__(self, target: Any, event: dict[str, Any]) -> None:
        self.calls.append((target.topic, event["id"]))
        if self.failures.get(target.topic, 0) > 0:
            self.failures[target.topic] -= 1
            raise RuntimeError(f"{target.topic} down")


def test_rule_store_round_trip(workspace: Workspace) -> None:
    store = FileRuleStore(workspace.rules_file)
    store.put({"name": "a", "event_pattern": {}, "targets": [{"type": "retrain"}]})
    store.put({"name": "b", "targets": [{"type": "notify", "topic": "ops"}]})
    store.put({"name": "a", "enabled": False})
    assert [(rule.name, rule.enabled) for rule in FileRuleStore(workspace.rules_file).list()] == [
        ("a", False),
        ("b", True),
    ]
    assert store.get("b").targets[0].type == "notify"
    store.delete("a")
    with pytest.raises(NotFoundError):
        store.get("a")
    with pytest.raises(NotFoundError):
        store.delete("a")
    with pytest.raises(ConfigError, match=r"pattern\.source"):
        store.put({"name": "c", "event_pattern": {"source": "x"}})
    with pytest.raises(ConfigError, match="targets"):
        store.put({"name": "c", "targets": [{"type": "email"}]})


def drain(deliverer: Deliverer, calls: int = 3) -> DeliveryReport:
    """The sum of ``calls`` deliveries; without backoff, each makes the retries the one before
    it scheduled."""
    total = DeliveryReport()
    for _ in range(calls):
        report = deliverer.deliver_pending()
        for field in fields(total):
            setattr(total, field.name, getattr(total, field.name) + getattr(report, field.name))
    return total


def test_rules_route_retry_dead_letter_and_restart(workspace: Workspace) -> None:
    store = FileRuleStore(workspace.rules_file)
    alarms = {"source": ["driftloop.alarms"], "detail": {"state": ["ALARM"]}}
    store.put(
        {
            "name": "page",
            "event_pattern": alarms,
            "targets": [
                {"type": "notify", "topic": "broken"},
                {"type": "notify", "topic": "ops"},
            ],
        }
    )
    store.put(
        {
            "name": "flaky",
            "event_pattern": alarms,
            "targets": [
                {"type": "notify", "topic": "flaky"},
            ],
        }
    )
    store.put({"name": "off", "enabled": False, "targets": [{"type": "notify", "topic": "x"}]})
    recorder = Recorder({"broken": 99, "flaky": 1})
    first = emit(workspace, "driftloop.alarms", "Alarm State Change", {"state": "ALARM"})
    emit(workspace, "driftloop.alarms", "Alarm State Change", {"state": "OK"})
    emit(workspace, "driftloop.training", "Run", {"state": "ALARM"})
    second = emit(workspace, "driftloop.alarms", "Alarm State Change", {"state": "ALARM"})

    def deliverer() -> Deliverer:
        return Deliverer(workspace, store, {"notify": recorder}, max_attempts=3, backoff_s=0)

    report = drain(deliverer())
    assert (report.events, report.delivered, report.dead_lettered) == (4, 4, 2)
    assert report.retries == 2 * 2 + 1
    assert recorder.calls.count(("ops", first["id"])) == 1
    assert recorder.calls.count(("flaky", first["id"])) == 2
    dead = deliverer().dead_letters()
    assert {(row["event_id"], row["target"]) for row in dead} == {
        (first["id"], 0),
        (second["id"], 0),
    }
    assert all(row["attempts"] == 3 and "broken down" in row["error"] for row in dead)
    assert dead[0]["event"]["detail"] == {"state": "ALARM"}
    assert len(deliverer().deliveries()) == 4

    calls = len(recorder.calls)
    again = deliverer().deliver_pending()
    assert (again.events, again.delivered, len(recorder.calls)) == (0, 0, calls)
    third = emit(workspace, "driftloop.alarms", "Alarm State Change", {"state": "ALARM"})
    later = drain(deliverer())
    assert (later.events, later.delivered, later.dead_lettered) == (1, 2, 1)
    assert ("ops", third["id"]) in recorder.calls


def test_crash_before_recording_redelivers(workspace: Workspace) -> None:
    store = FileRuleStore(workspace.rules_file)
    store.put(
        {
            "name": "r",
            "targets": [
                {"type": "notify", "topic": "a"},
                {"type": "notify", "topic": "b"},
            ],
        }
    )
    event = emit(workspace, "s", "t", {})
    calls: list[str] = []

    def crash_on_b(target: Any, _: dict[str, Any]) -> None:
        calls.append(target.topic)
        if target.topic == "b":
            raise KeyboardInterrupt  # a crash, not a handler failure: nothing is recorded

    with pytest.raises(KeyboardInterrupt):
        Deliverer(workspace, store, {"notify": crash_on_b}).deliver_pending()
    report = Deliverer(workspace, store, {"notify": Recorder()}).deliver_pending()
    assert calls == ["a", "b"]
    assert (report.events, report.delivered) == (1, 1)
    rows = Deliverer(workspace, store, {}).deliveries()
    assert sorted(row["target"] for row in rows) == [0, 1]
    assert {row["event_id"] for row in rows} == {event["id"]}


def test_default_handlers_command_notify_and_retrain(workspace: Workspace) -> None:
    out = workspace.root / "stdin.json"
    script = f"import sys, pathlib; pathlib.Path({str(out)!r}).write_bytes(sys.stdin.buffer.read())"
    store = FileRuleStore(workspace.rules_file)
    store.put(
        {
            "name": "all",
            "targets": [
                {"type": "command", "command": [sys.executable, "-c", script]},
                {"type": "command", "command": [sys.executable, "-c", "import sys; sys.exit(3)"]},
                {"type": "notify", "topic": "ops"},
                {"type": "retrain"},
            ],
        }
    )
    note = notifier(workspace, [Subscription(protocol="file", endpoint="ops.jsonl")])
    event = emit(workspace, "driftloop.monitoring", "Drift Detected", {"features": ["tenure"]})
    handlers = default_handlers(workspace, note, retrain=None)
    report = Deliverer(workspace, store, handlers, max_attempts=1).deliver_pending()
    assert (report.delivered, report.dead_lettered) == (2, 2)
    assert json.loads(out.read_bytes()) == event
    (line,) = (workspace.root / "ops.jsonl").read_text().splitlines()
    assert json.loads(line)["subject"] == "Drift Detected from driftloop.monitoring"
    errors = {row["target"]: row["error"] for row in Deliverer(workspace, store, {}).dead_letters()}
    assert "exited with 3" in errors[1] and "no retraining pipeline" in errors[3]

    seen: list[dict[str, Any]] = []
    store.put({"name": "all", "targets": [{"type": "retrain"}]})
    second = emit(workspace, "driftloop.monitoring", "Drift Detected", {})
    Deliverer(workspace, store, default_handlers(workspace, note, seen.append)).deliver_pending()
    assert seen == [second]


def test_a_refused_webhook_post_closes_its_connection_at_once(
    receiver: tuple[str, Path],
) -> None:
    """The 500's connection is closed when the error is raised, not left to the collector
    (which would warn about an unclosed socket wherever it happens to run)."""
    url, _ = receiver
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(OSError, match="answered HTTP 500") as refused:
            post_json(f"{url}/hook/fail", {"n": 1})
        cause = refused.value.__cause__
        assert isinstance(cause, urllib.error.HTTPError) and cause.fp is not None
        assert cause.fp.closed
        del refused, cause
        gc.collect()
    assert not [w for w in seen if issubclass(w.category, ResourceWarning)]
