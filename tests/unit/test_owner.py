"""Whether the process that owns a piece of work still runs."""

from __future__ import annotations

import subprocess

from driftloop.owner import Owner, alive, current


def test_this_process_is_alive_and_round_trips() -> None:
    me = current()
    assert alive(me) is True
    assert Owner.from_dict(me.to_dict()) == me


def test_an_ended_process_is_not_alive() -> None:
    ended = subprocess.Popen(["sleep", "0"])
    ended.wait()
    assert alive(Owner(current().host, ended.pid, None)) is False


def test_a_reused_pid_is_not_the_owner() -> None:
    me = current()
    assert me.started is not None  # Linux: /proc gives the start time
    assert alive(Owner(me.host, me.pid, me.started + 1)) is False


def test_another_host_cannot_be_judged() -> None:
    assert alive(Owner("some-other-host", 1, None)) is None
