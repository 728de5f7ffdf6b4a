"""A line of the event log that is not an event is skipped by readers, counted, logged with
where it is, dead-lettered by delivery, and passed over so later events are still delivered; a
torn last line does not swallow the next event."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from driftloop.backends.local.rules import FileRuleStore
from driftloop.cli import events as events_cli
from driftloop.events.delivery import Deliverer
from driftloop.events.log import LogLine, event_log, read_events
from driftloop.workspace import Workspace
from tests.workspaces import emit


def append(workspace: Workspace, data: bytes) -> None:
    with event_log(workspace).open("ab") as handle:
        handle.write(data)


def corrupt_log(workspace: Workspace) -> tuple[list[dict[str, Any]], list[int]]:
    """Events with bad lines between them: (the events, the byte offsets of the bad lines)."""
    first = emit(workspace, "s", "t", {"n": 1})
    offsets = []
    for bad in (
        b'{"id": "x", "source": "s", "detail-ty\n',  # bad JSON
        orjson.dumps({"id": "y", "time": "t", "detail-type": "t", "detail": {}}) + b"\n",
        b"[1, 2]\n",
        b'{"id": "torn", "sou',  # a torn write: the next event starts a new line
    ):
        offsets.append(event_log(workspace).stat().st_size)
        append(workspace, bad)
    second = emit(workspace, "s", "t", {"n": 2})
    last = emit(workspace, "s", "t", {"n": 3})
    return [first, second, last], offsets


def test_readers_skip_count_and_log_bad_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = Workspace(tmp_path / "ws").ensure()
    events, offsets = corrupt_log(workspace)
    tail = event_log(workspace).stat().st_size
    append(workspace, b'{"id": "being written"')  # no newline yet: reported, not an event
    corrupt: list[LogLine] = []
    with caplog.at_level(logging.WARNING, "driftloop.events"):
        assert list(read_events(workspace, corrupt)) == events
    assert [(line.number, line.offset) for line in corrupt] == list(
        zip([2, 3, 4, 5, 8], [*offsets, tail], strict=True)
    )
    assert corrupt[3].text == b'{"id": "torn", "sou\n'
    assert corrupt[4].problem == "no newline at the end: still being written, or torn by a crash"
    assert "not JSON" in corrupt[0].problem and "'source'" in corrupt[1].problem
    assert "a JSON list" in corrupt[2].problem
    assert f"line 3, byte {offsets[1]} of events.jsonl" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, "driftloop.events"):
        assert list(read_events(workspace)) == events
    assert caplog.text == ""  # logged once per process


def test_delivery_dead_letters_bad_lines_and_moves_past_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = Workspace(tmp_path / "ws").ensure()
    rules = FileRuleStore(workspace.rules_file)
    rules.put({"name": "all", "targets": [{"type": "notify", "topic": "ops"}]})
    seen: list[dict[str, Any]] = []

    def deliverer() -> Deliverer:
        return Deliverer(workspace, rules, {"notify": lambda _, event: seen.append(event)})

    events, offsets = corrupt_log(workspace)
    with caplog.at_level(logging.WARNING, "driftloop.events"):
        report = deliverer().deliver_pending()
    assert (report.events, report.delivered, report.corrupt) == (3, 3, 4)
    assert seen == events
    assert f"dead-lettered line 2, byte {offsets[0]} of events.jsonl: not JSON" in caplog.text
    dead = sorted(deliverer().dead_letters(), key=lambda row: int(row["event_id"][7:]))
    assert [row["event_id"] for row in dead] == [f"offset:{offset}" for offset in offsets]
    assert all(row["rule"] == "" and row["error"].startswith("not an event: line") for row in dead)
    assert dead[0]["event"] == '{"id": "x", "source": "s", "detail-ty'
    assert dead[1]["event"]["id"] == "y" and dead[2]["event"] == [1, 2]
    assert dead[3]["event"] == '{"id": "torn", "sou'

    assert deliverer().deliver_pending() == type(report)()  # passed over once, for good
    later = emit(workspace, "s", "t", {"n": 4})
    assert deliverer().deliver_pending().delivered == 1 and seen[-1] == later


def test_cli_counts_bad_lines_and_shows_dead_letters(home: Path) -> None:
    workspace = Workspace(home).ensure()
    FileRuleStore(workspace.rules_file).put(
        {"name": "all", "targets": [{"type": "command", "command": ["true"]}]}
    )
    emit(workspace, "s", "t", {})
    append(workspace, b"not json\n")
    listed = CliRunner().invoke(events_cli.events_app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "1 item(s) are not events: line 2, byte" in " ".join(listed.output.split())
    Deliverer(workspace, FileRuleStore(workspace.rules_file), {}).deliver_pending()
    shown = CliRunner().invoke(events_cli.events_app, ["dead-letters"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "offset:" in shown.output and "not an event" in shown.output
    assert "no handler for target type 'command'" in shown.output
