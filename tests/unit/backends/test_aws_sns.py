"""The SNS notifier against moto: subjects SNS takes, subscriptions from the settings, topics
managed elsewhere."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from driftloop.backends.aws.notifications import sns_subject
from driftloop.backends.catalog import Backends
from driftloop.errors import ConfigError
from tests.aws import REGION, settings_for
from tests.webhook_receiver import make_handler


def _stores(tmp_path: Path, request: pytest.FixtureRequest, *topics: dict[str, Any]) -> Backends:
    notifications = {"topics": list(topics)}
    home = tmp_path / ".driftloop"
    return Backends.from_settings(settings_for("aws", home, request, notifications=notifications))


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A webhook receiver on a loopback port: (its URL, the file of what it received)."""
    outfile = tmp_path / "received.jsonl"
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(outfile))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", outfile
    server.shutdown()
    server.server_close()


def test_subjects_are_made_fit_for_sns() -> None:
    assert (
        sns_subject("ALARM: “HighLatency” in churn — café\nnow")
        == "ALARM: HighLatency in churn cafe now"
    )
    long = sns_subject("x" * 150)
    assert len(long) == 100 and long.endswith("...")
    assert sns_subject("\t\n") == ""


def test_a_webhook_subscription_gets_snss_notification(
    tmp_path: Path, request: pytest.FixtureRequest, receiver: tuple[str, Path]
) -> None:
    url, outfile = receiver
    stores = _stores(
        tmp_path,
        request,
        {"name": "ops", "subscriptions": [{"protocol": "webhook", "endpoint": url}]},
    )
    stores.notifier.publish("ops", "ALARM: “x”", "text")
    [note] = [orjson.loads(line)["body"] for line in outfile.read_bytes().splitlines()]
    assert (note["Type"], note["Subject"], note["Message"]) == ("Notification", "ALARM: x", "text")


@pytest.mark.parametrize("protocol", ["file", "slack"])
def test_protocols_sns_cannot_serve_are_refused(
    tmp_path: Path, request: pytest.FixtureRequest, protocol: str
) -> None:
    endpoint = "notes.jsonl" if protocol == "file" else "https://hooks.slack.com/x"
    stores = _stores(
        tmp_path,
        request,
        {"name": "ops", "subscriptions": [{"protocol": protocol, "endpoint": endpoint}]},
    )
    with pytest.raises(ConfigError, match=f"topic 'ops': SNS cannot deliver to {protocol}"):
        stores.notifier.check_topic("ops")


def test_topics_managed_elsewhere_are_found_by_name_or_arn(
    tmp_path: Path,
    request: pytest.FixtureRequest,
    moto_url: str,
) -> None:
    stores = _stores(tmp_path, request)
    sns = boto3.client("sns", region_name=REGION, endpoint_url=moto_url)
    arn = sns.create_topic(Name="theirs")["TopicArn"]
    stores.notifier.check_topic("theirs")
    [result] = stores.notifier.publish(arn, "s", "m")
    assert result.ok and result.subscription == f"sns:{arn}"
