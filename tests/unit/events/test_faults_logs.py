"""Append-only JSON Lines files (the event log, file notifications) after a crash tore their last
line: the next append starts a new line, the torn line is one reported bad line, nothing else is
lost."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from driftloop.backends.local.notifications import TopicNotifier
from driftloop.backends.local.rules import FileRuleStore
from driftloop.cli import events as events_cli
from driftloop.config import NotificationSettings
from driftloop.events import jsonl
from driftloop.events.delivery import Deliverer
from driftloop.events.log import TORN, LogLine, event_log, read_events
from driftloop.workspace import Workspace
from tests.workspaces import emit

TORN_EVENT = b'{"id": "a", "time": "2026-01-01T00:00:00Z", "sour'


def tear(path: Path, data: bytes) -> None:
    """What a process killed mid-write leaves: part of a line, no newline."""
    with path.open("ab") as handle:
        handle.write(data)


def test_an_event_after_a_torn_line_is_read_and_delivered(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path).ensure()
    first = emit(workspace, "s", "t", {"n": 1})
    tear(event_log(workspace), TORN_EVENT)
    corrupt: list[LogLine] = []
    assert list(read_events(workspace, corrupt)) == [first]
    assert [(line.number, line.problem) for line in corrupt] == [(2, TORN)]

    second = emit(workspace, "s", "t", {"n": 2})
    lines = event_log(workspace).read_bytes().split(b"\n")
    assert lines[1] == TORN_EVENT and orjson.loads(lines[2]) == second
    corrupt.clear()
    assert list(read_events(workspace, corrupt)) == [first, second]
    assert [(line.number, line.text) for line in corrupt] == [(2, TORN_EVENT + b"\n")]
    assert corrupt[0].problem.startswith("not JSON")

    rules = FileRuleStore(workspace.rules_file)
    rules.put({"name": "all", "targets": [{"type": "notify", "topic": "ops"}]})
    seen: list[dict[str, object]] = []
    report = Deliverer(workspace, rules, {"notify": lambda _, e: seen.append(e)}).deliver_pending()
    assert (report.events, report.delivered, report.corrupt) == (2, 2, 1)
    assert seen == [first, second]
    [dead] = Deliverer(workspace, rules, {}).dead_letters()
    assert dead["event"] == TORN_EVENT.decode() and "line 2" in dead["error"]


def test_events_list_counts_a_torn_last_line(home: Path) -> None:
    workspace = Workspace(home).ensure()
    emit(workspace, "s", "t", {})
    offset = event_log(workspace).stat().st_size
    tear(event_log(workspace), TORN_EVENT)
    listed = CliRunner().invoke(events_cli.events_app, ["list"], terminal_width=300)
    assert listed.exit_code == 0, listed.output
    footer = " ".join(listed.output.split())
    assert f"1 item(s) are not events: line 2, byte {offset} of events.jsonl: {TORN}" in footer


def test_empty_lines_from_racing_appends_are_passed_over(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path).ensure()
    first = emit(workspace, "s", "t", {"n": 1})
    tear(event_log(workspace), b"\n\n")
    second = emit(workspace, "s", "t", {"n": 2})
    corrupt: list[LogLine] = []
    assert list(read_events(workspace, corrupt)) == [first, second]
    assert corrupt == []


def test_a_note_after_a_torn_line_is_a_line_of_its_own(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path).ensure()
    settings = NotificationSettings.model_validate(
        {
            "topics": [
                {"name": "ops", "subscriptions": [{"protocol": "file", "endpoint": "n.jsonl"}]}
            ]
        }
    )
    notifier = TopicNotifier(settings, workspace)
    notifier.publish("ops", "first", "one")
    tear(workspace.root / "n.jsonl", b'{"time": "2026-01-01T00:00:00Z", "topic": "o')
    notifier.publish("ops", "second", "two")
    lines = (workspace.root / "n.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert [orjson.loads(line)["subject"] for line in (lines[0], lines[2])] == ["first", "second"]
    assert lines[1] == b'{"time": "2026-01-01T00:00:00Z", "topic": "o'


def test_a_short_write_is_an_error_not_a_silent_loss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.write
    monkeypatch.setattr(jsonl.os, "write", lambda fd, data: real(fd, data[:5]))
    with pytest.raises(OSError) as found:
        jsonl.append_lines(tmp_path / "x.jsonl", b'{"a": 1}\n')
    assert found.value.errno == errno.ENOSPC and found.value.filename == str(tmp_path / "x.jsonl")


_WRITER = """
import sys
from pathlib import Path
from driftloop.events.log import append, new_event
for n in range(200):
    append(Path(sys.argv[1]), [new_event("w", "t", {"writer": sys.argv[2], "n": n})])
"""


def test_writers_racing_past_a_torn_line_lose_nothing(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path).ensure()
    tear(event_log(workspace), TORN_EVENT)
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(event_log(workspace)), str(w)])
        for w in range(3)
    ]
    assert [writer.wait(120) for writer in writers] == [0, 0, 0]
    corrupt: list[LogLine] = []
    seen = {(e["detail"]["writer"], e["detail"]["n"]) for e in read_events(workspace, corrupt)}
    assert seen == {(str(w), n) for w in range(3) for n in range(200)}
    assert [(line.number, line.offset) for line in corrupt] == [(1, 0)]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(junk=st.binary(max_size=200))
def test_any_bytes_in_the_log_are_counted_and_later_events_still_read(junk: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(Path(folder))
        first = emit(workspace, "s", "t", {"n": 1})
        tear(event_log(workspace), junk)
        last = emit(workspace, "s", "t", {"n": 2})
        corrupt: list[LogLine] = []
        events = list(read_events(workspace, corrupt))
        assert events[0] == first and events[-1] == last
        bad = [line for line in junk.split(b"\n") if line.strip()]
        assert len(events) - 2 + len(corrupt) == len(bad)  # each junk line: an event or counted
        assert all(line.event is None and line.problem for line in corrupt)
