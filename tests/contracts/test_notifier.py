"""The notifier contract (SNS Publish): one result per subscription, failures named."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from driftloop.backends.catalog import Backends
from driftloop.config import load_settings
from driftloop.errors import NotFoundError, NotificationFailed

STORES = ("notifier",)
"""The stores these tests exercise: they run for every backend kind that builds them."""

TOPICS = {
    "topics": [
        {
            "name": "ops",
            "subscriptions": [
                {"protocol": "file", "endpoint": "notes/ops.jsonl"},
                {"protocol": "webhook", "endpoint": "http://127.0.0.1:9/closed"},
            ],
        },
        {"name": "quiet", "subscriptions": [{"protocol": "file", "endpoint": "notes/q.jsonl"}]},
    ]
}


@pytest.fixture
def stores(backend_kind: str, tmp_path: Path) -> Backends:
    """The stores of one backend kind, with two topics configured."""
    home = tmp_path / ".driftloop"
    settings = load_settings(home=home, backend={"kind": backend_kind}, notifications=TOPICS)
    return Backends.from_settings(settings)


def test_every_subscription_gets_its_own_result(stores: Backends, tmp_path: Path) -> None:
    (ok,) = stores.notifier.publish("quiet", "subject", "message", {"k": 1})
    assert ok.ok and ok.subscription == "file:notes/q.jsonl"
    note = orjson.loads((tmp_path / ".driftloop" / "notes" / "q.jsonl").read_text())
    assert note["subject"] == "subject" and note["detail"] == {"k": 1}


def test_a_failed_subscription_is_named_and_the_others_still_delivered(stores: Backends) -> None:
    results = stores.notifier.publish("ops", "s", "m", strict=False)
    assert [r.ok for r in results] == [True, False]
    with pytest.raises(NotificationFailed, match=r"127\.0\.0\.1"):
        stores.notifier.publish("ops", "s", "m")
    with pytest.raises(NotFoundError, match="nope"):
        stores.notifier.publish("nope", "s", "m")


def test_checking_a_topic(stores: Backends) -> None:
    stores.notifier.check_topic("ops")
    with pytest.raises(NotFoundError, match="nope"):
        stores.notifier.check_topic("nope")
