"""The EventBridge rule store against moto: what the rules and targets look like on AWS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from driftloop.backends.aws.rules import MATCH_ALL
from driftloop.backends.catalog import Backends
from driftloop.errors import ConfigError, NotFoundError
from tests.aws import REGION, settings_for

TOPICS = {"topics": [{"name": "ops"}]}


@pytest.fixture
def stores(tmp_path: Path, request: pytest.FixtureRequest) -> Backends:
    home = tmp_path / ".driftloop"
    return Backends.from_settings(settings_for("aws", home, request, notifications=TOPICS))


@pytest.fixture
def aws(moto_url: str) -> dict[str, Any]:
    return {
        name: boto3.client(name, region_name=REGION, endpoint_url=moto_url)
        for name in ("events", "sns", "sqs")
    }


def test_targets_round_trip_in_order(stores: Backends, aws: dict[str, Any]) -> None:
    targets = [{"type": "notify", "topic": "ops"}, {"type": "retrain"}]
    stores.rules.put({"name": "page", "targets": targets})
    assert [t.model_dump() for t in stores.rules.get("page").targets] == targets
    put = aws["events"].list_targets_by_rule(Rule="page")["Targets"]
    assert [t["Arn"].split(":")[2:6:3] for t in put] == [
        ["sns", "ops"],
        ["sqs", "driftloop-deliveries"],
    ]
    assert orjson.loads(aws["events"].describe_rule(Name="page")["EventPattern"]) == MATCH_ALL
    assert stores.rules.get("page").event_pattern == {}
    policy = aws["sns"].get_topic_attributes(TopicArn=put[0]["Arn"])["Attributes"]["Policy"]
    assert "events.amazonaws.com" in policy


def test_the_queue_is_created_with_its_dead_letter_queue(
    stores: Backends, aws: dict[str, Any]
) -> None:
    stores.rules.put({"name": "drift", "targets": [{"type": "retrain"}]})
    url = aws["sqs"].get_queue_url(QueueName="driftloop-deliveries")["QueueUrl"]
    attributes = aws["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = orjson.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":driftloop-deliveries-dead-letters")
    assert int(redrive["maxReceiveCount"]) == 3 and "events.amazonaws.com" in attributes["Policy"]


def test_a_replaced_rule_loses_its_old_targets(stores: Backends, aws: dict[str, Any]) -> None:
    stores.rules.put(
        {"name": "r", "targets": [{"type": "retrain"}, {"type": "notify", "topic": "ops"}]}
    )
    stores.rules.put({"name": "r", "targets": [{"type": "retrain"}]})
    ids = [t["Id"] for t in aws["events"].list_targets_by_rule(Rule="r")["Targets"]]
    assert ids == ["driftloop-0-retrain"]


def test_command_targets_are_refused_and_change_nothing(stores: Backends) -> None:
    with pytest.raises(ConfigError, match="command targets run local programs"):
        stores.rules.put({"name": "c", "targets": [{"type": "command", "command": ["true"]}]})
    assert stores.rules.list() == []


def test_rules_of_others_are_not_driftloops(stores: Backends, aws: dict[str, Any]) -> None:
    aws["events"].put_rule(Name="theirs", EventPattern='{"source": ["x"]}')
    stores.rules.put({"name": "ours"})
    assert [rule.name for rule in stores.rules.list()] == ["ours"]
    with pytest.raises(NotFoundError, match="theirs"):
        stores.rules.get("theirs")
    with pytest.raises(ConfigError, match="'theirs' on bus 'default' is not driftloop's"):
        stores.rules.put({"name": "theirs"})
