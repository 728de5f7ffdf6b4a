"""Whether the process that owns a piece of work is gone."""

from __future__ import annotations

import subprocess

from driftloop.owner import Owner


def test_this_process_is_not_gone_and_round_trips() -> None:
    me = Owner.current()
    assert not me.gone() and me.local
    assert Owner.from_dict(me.to_dict()) == me


def test_an_ended_process_is_gone() -> None:
    ended = subprocess.Popen(["sleep", "0"])
    ended.wait()
    assert Owner(ended.pid, Owner.current().host, None).gone()


def test_a_reused_pid_is_not_the_owner() -> None:
    me = Owner.current()
    assert me.started is not None  # Linux: /proc gives the start time
    assert Owner(me.pid, me.host, me.started + 1).gone()


def test_another_host_cannot_be_judged() -> None:
    assert not Owner(1, "some-other-host", None).gone()
