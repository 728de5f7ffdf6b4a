"""The notifier contract (SNS Publish): results for what was published, failures named.

Locally each subscription has its own result. On aws SNS fans out after Publish returns, so
one result stands for the topic, and what fails is the Publish itself. Each kind's setup says
which subscriptions it configures, how to read what the "quiet" topic's subscriber received,
and what publishing to "ops" fails on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from driftloop.backends.catalog import Backends
from driftloop.config import load_settings
from driftloop.errors import NotFoundError, NotificationFailed
from tests.aws import REGION, settings_for

STORES = ("notifier",)
"""The stores these tests exercise: they run for every backend kind that builds them."""


@dataclass
class Setup:
    stores: Backends
    quiet: str
    """The subscription of the one result of a publish to "quiet"."""
    received: Callable[[], list[dict[str, Any]]]
    """What quiet's subscriber received: each note's subject, message and detail."""
    failing: str
    """A message whose publish to "ops" fails."""
    ops: list[bool]
    """Which results of that publish are ok."""
    failed: str
    """What the failure names (a pattern)."""


@pytest.fixture
def setup(backend_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Setup:
    """The stores of one backend kind, with two topics configured."""
    home = tmp_path / ".driftloop"
    return _aws(home, request) if backend_kind == "aws" else _local(home, backend_kind)


def _local(home: Path, kind: str) -> Setup:
    """File subscriptions read back from disk; a closed webhook fails alone."""
    topics = {
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
    settings = load_settings(home=home, backend={"kind": kind}, notifications=topics)

    def received() -> list[dict[str, Any]]:
        return [
            orjson.loads(line) for line in (home / "notes" / "q.jsonl").read_bytes().splitlines()
        ]

    return Setup(
        Backends.from_settings(settings),
        "file:notes/q.jsonl",
        received,
        "m",
        [True, False],
        r"127\.0\.0\.1",
    )


def _aws(home: Path, request: pytest.FixtureRequest) -> Setup:
    """An SQS queue subscribed to "quiet", read by the test (a subscription SNS confirms at
    once); "ops" has an email subscription, and SNS refuses a message over 256 KiB."""
    topics = {
        "topics": [
            {
                "name": "ops",
                "subscriptions": [{"protocol": "email", "endpoint": "ops@example.com"}],
            },
            {"name": "quiet"},
        ]
    }
    settings = settings_for("aws", home, request, notifications=topics)
    url = request.getfixturevalue("moto_url")
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=url)
    sns = boto3.client("sns", region_name=REGION, endpoint_url=url)
    queue = sqs.create_queue(QueueName="quiet-notes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    topic_arn = sns.create_topic(Name="quiet")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        notes = [orjson.loads(message["Body"]) for message in messages]
        return [
            {
                "subject": note.get("Subject"),
                "message": note["Message"],
                "detail": orjson.loads(note["MessageAttributes"]["detail"]["Value"]),
            }
            for note in notes
        ]

    return Setup(
        Backends.from_settings(settings),
        f"sns:{topic_arn}",
        received,
        "x" * 300_000,
        [False],
        r"sns:arn:aws:sns:.*:ops: .*Message too long",
    )


def test_every_subscription_gets_its_own_result(setup: Setup) -> None:
    (ok,) = setup.stores.notifier.publish("quiet", "subject", "message", {"k": 1})
    assert ok.ok and ok.subscription == setup.quiet
    [note] = setup.received()
    assert (note["subject"], note["message"], note["detail"]) == ("subject", "message", {"k": 1})


def test_a_failed_subscription_is_named_and_the_others_still_delivered(setup: Setup) -> None:
    results = setup.stores.notifier.publish("ops", "s", setup.failing, strict=False)
    assert [r.ok for r in results] == setup.ops
    with pytest.raises(NotificationFailed, match=setup.failed):
        setup.stores.notifier.publish("ops", "s", setup.failing)
    with pytest.raises(NotFoundError, match="nope"):
        setup.stores.notifier.publish("nope", "s", "m")


def test_checking_a_topic(setup: Setup) -> None:
    setup.stores.notifier.check_topic("ops")
    with pytest.raises(NotFoundError, match="nope"):
        setup.stores.notifier.check_topic("nope")
