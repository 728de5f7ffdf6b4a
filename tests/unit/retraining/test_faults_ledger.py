"""Retrain claims: a retrain whose process died is an orphan, taken over by one process only."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from driftloop.config import RetrainSettings
from driftloop.owner import Owner
from driftloop.retraining.ledger import COMPLETED, FAILED, RUNNING, Claim, Ledger

POLICY = RetrainSettings(min_labels=10, cooldown="0s")
NOW = datetime(2026, 11, 27, 14, 0, 0, 123456, tzinfo=UTC)


def _dead_owner() -> Owner:
    """A process of this host that has exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return replace(Owner.current(), pid=int(done.stdout), started=None)


def _claim(ledger: Ledger, event_id: str) -> Claim:
    claim = ledger.claim("churn", event_id, NOW, POLICY, False, 50)
    assert isinstance(claim, Claim)
    return claim


def _orphan(path: Path, claim: Claim) -> Claim:
    """``claim`` as if the process that made it had died: its owner is an exited process."""
    dead = _dead_owner()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE claims SET owner_pid = ? WHERE id = ?", (dead.pid, claim.id))
    return replace(claim, owner=dead)


def test_a_claim_records_the_retrain_before_it_runs(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "retrain.db")
    claim = _claim(ledger, "e1")
    assert claim.status == RUNNING and claim.attempts == 1 and claim.at == NOW
    assert ledger.claims() == [claim]  # the time survives to the microsecond
    assert ledger.claim("churn", "e1", NOW, POLICY, False, 50) == "duplicate event"
    assert ledger.orphans() == []  # its process (this one) is alive
    ledger.settle(claim, COMPLETED, version=4)
    assert ledger.claims()[0].status == COMPLETED and ledger.claims()[0].version == 4


def test_an_orphan_is_taken_over_once(tmp_path: Path) -> None:
    path = tmp_path / "retrain.db"
    ledger = Ledger(path)
    orphan = _orphan(path, _claim(ledger, "e1"))
    (found,) = ledger.orphans()
    assert found.id == orphan.id and found.owner.pid == orphan.owner.pid
    taken = ledger.take_over(found)
    assert taken is not None and taken.attempts == 2 and taken.owner == Owner.current()
    assert ledger.take_over(found) is None  # a second taker loses
    assert ledger.orphans() == []  # now owned by a live process
    ledger.settle(taken, FAILED, error="boom")
    assert [c.status for c in ledger.claims()] == [FAILED]


def test_a_skipped_request_makes_no_claim(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "retrain.db")
    reason = ledger.claim("churn", "e1", NOW, POLICY, False, 3)
    assert reason == "3 labelled captured rows, 10 needed"
    assert ledger.claims() == [] and ledger.handled("e1")
