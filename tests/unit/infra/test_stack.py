"""The neutral description of the resources (driftloop.infra.stack) and its two writers' small
parts: the YAML and HCL layout, the names, what the settings refuse in one sentence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftloop.config import Settings, load_settings
from driftloop.errors import ConfigError
from driftloop.events.delivery_queue import DELIVERY_ATTEMPTS, HANDLER_TIME_S, RETENTION_S
from driftloop.events.eventbridge import is_driftloop_rule
from driftloop.infra import cloudformation
from driftloop.infra import resources as r
from driftloop.infra.json_text import pretty
from driftloop.infra.naming import Keys, snake
from driftloop.infra.policy import RolePolicy, read_role_policy
from driftloop.infra.stack import describe
from driftloop.infra.values import Attr, Param
from driftloop.infra.yaml_text import dump

AWS = {
    "region": "eu-west-1",
    "bucket": "team-ml",
    "prefix": "churn/",
    "role_arn": "arn:aws:iam::123456789012:role/ml/driftloop-sagemaker",
}
NO_POLICY = RolePolicy("docs/iam/sagemaker_role_policy.json", None)
LATENCY = {
    "AlarmName": "HighLatencyAlarm",
    "Namespace": "AWS/SageMaker",
    "MetricName": "ModelLatency",
    "Dimensions": [{"Name": "EndpointName", "Value": "churn"}],
    "Statistic": "Average",
    "Period": 60,
    "EvaluationPeriods": 2,
    "Threshold": 1000,
    "ComparisonOperator": "GreaterThanThreshold",
    "AlarmActions": ["ops"],
}


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"aws": AWS, **overrides}
    return load_settings(**values)


def _of(stack: r.Stack, kind: type) -> list[Any]:
    return [resource for resource in stack.resources if isinstance(resource, kind)]


@pytest.fixture(autouse=True)
def _clean_env(home: Path) -> None:
    """No driftloop.toml nor DRIFTLOOP_* variable leaks into the settings."""


def test_the_bucket_role_queues_and_default_rule_come_from_the_settings() -> None:
    stack = describe(_settings(), NO_POLICY)
    [bucket] = _of(stack, r.Bucket)
    assert bucket.name == "team-ml"
    [role] = _of(stack, r.Role)
    assert (role.name, role.path, role.policy) == ("driftloop-sagemaker", "/ml/", None)
    assert "docs/iam/sagemaker_role_policy.json" in role.description
    assert any("sagemaker_role_policy.json does not exist" in note for note in stack.notes)
    dead, queue = _of(stack, r.Queue)
    assert (dead.name, dead.retention) == ("driftloop-deliveries-dead-letters", RETENTION_S)
    assert (queue.name, queue.visibility_timeout) == ("driftloop-deliveries", HANDLER_TIME_S)
    assert queue.redrive == {
        "deadLetterTargetArn": Attr(dead.key, "arn"),
        "maxReceiveCount": str(DELIVERY_ATTEMPTS),
    }
    [policy] = _of(stack, r.QueuePolicy)
    assert policy.queue == queue.key
    [rule] = _of(stack, r.EventRule)  # the default rule: retrain on violations
    assert rule.name == "retrain-on-violations"
    assert is_driftloop_rule(rule.description)
    assert [(t.id, t.arn) for t in rule.targets] == [
        ("driftloop-0-retrain", Attr(queue.key, "arn"))
    ]
    uri = next(o for o in stack.outputs if o.key == "ArtifactsUri")
    assert uri.value.parts[-1] == "/churn/"
    assert not _of(stack, r.EventBus)  # the default bus exists already


@pytest.mark.parametrize(
    ("aws", "missing"),
    [
        ({"role_arn": AWS["role_arn"]}, "aws.bucket"),
        ({"bucket": "team-ml"}, "aws.role_arn"),
        ({}, "aws.bucket and aws.role_arn"),
    ],
)
def test_a_missing_bucket_or_role_is_one_sentence(aws: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError) as refused:
        describe(load_settings(aws=aws), NO_POLICY)
    message = refused.value.message
    assert message.startswith(f"infra render needs {missing} in the config: ")
    assert "\n" not in message


def test_topics_alarms_rules_and_dashboards_reference_each_other() -> None:
    topics = [
        {
            "name": "ops",
            "subscriptions": [
                {"protocol": "email", "endpoint": "oncall@example.com"},
                {"protocol": "webhook", "endpoint": "https://hooks.example.com/x"},
            ],
        }
    ]
    rules = [
        {
            "name": "page-on-drift",
            "event_pattern": {"source": ["driftloop.monitoring"]},
            "targets": [{"type": "notify", "topic": "ops"}, {"type": "retrain"}],
        },
        {"name": "everything", "targets": [{"type": "notify", "topic": "elsewhere"}]},
    ]
    settings = _settings(
        notifications={"topics": topics},
        rules=rules,
        alarms=[LATENCY],
        aws={**AWS, "event_bus": "ml-events"},
        deploy={"alarms": ["HighLatencyAlarm", "missing-alarm"]},
    )
    stack = describe(settings, NO_POLICY)
    [topic] = _of(stack, r.Topic)
    assert topic.key == "OpsTopic"
    [email, webhook] = topic.subscriptions
    assert email == r.Subscription("email", Param("OpsEmail"))
    assert webhook == r.Subscription("https", "https://hooks.example.com/x")
    assert [(p.key, p.default) for p in stack.parameters] == [("OpsEmail", "oncall@example.com")]
    [bus] = _of(stack, r.EventBus)
    assert bus.name == "ml-events"
    page, everything = _of(stack, r.EventRule)
    assert page.bus == Attr(bus.key, "name")
    assert [t.arn for t in page.targets] == [Attr("OpsTopic", "arn"), Attr("RetrainQueue", "arn")]
    assert page.description < everything.description  # the config's order
    assert everything.pattern == {"source": [{"prefix": ""}]}  # EventBridge's match-all
    [policy] = _of(stack, r.TopicPolicy)  # only ops is published to by a rule
    sids = [statement["Sid"] for statement in policy.document["Statement"]]
    assert sids == ["__default_statement_ID", "driftloop-eventbridge-rules"]
    [alarm] = _of(stack, r.Alarm)
    assert alarm.key == "HighLatencyAlarm"
    assert alarm.actions["alarm"] == (Attr("OpsTopic", "arn"),)
    [dashboard] = _of(stack, r.Dashboard)
    assert dashboard.name == "driftloop-churn"
    assert "elsewhere" in " ".join(stack.notes)
    assert "missing-alarm" in " ".join(stack.notes)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"rules": [{"name": "run", "targets": [{"type": "command", "command": ["true"]}]}]},
            "rule 'run': command targets run local programs, which the aws backend cannot",
        ),
        (
            {
                "notifications": {
                    "topics": [
                        {"name": "ops", "subscriptions": [{"protocol": "file", "endpoint": "x"}]}
                    ]
                }
            },
            "topic 'ops': SNS cannot deliver to file subscriptions",
        ),
        (
            {"alarms": [{**LATENCY, "Period": 45}]},
            "alarm 'HighLatencyAlarm': field 'period': ",
        ),
    ],
)
def test_what_aws_cannot_serve_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{message}"):
        describe(_settings(**overrides), NO_POLICY)


def test_the_role_carries_the_policy_file_filled_in_from_the_settings(tmp_path: Path) -> None:
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": [
            "arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}/*",
            "arn:aws:s3:::${Bucket}/home/${aws:username}/*",
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${ExecutionRoleName}",
        ],
    }
    document = {"Version": "2012-10-17", "Statement": [statement]}
    path = tmp_path / "policy.json"
    assert read_role_policy(path).document is None
    path.write_text(json.dumps(document))
    stack = describe(_settings(), read_role_policy(path))
    [role] = _of(stack, r.Role)
    properties = cloudformation.template(stack)["Resources"][role.key]["Properties"]
    [policy] = properties["Policies"]
    assert policy["PolicyName"] == "driftloop"
    assert policy["PolicyDocument"]["Statement"][0]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:s3:::team-ml/churn/*"},
        "arn:aws:s3:::team-ml/home/${aws:username}/*",  # IAM's own variable, as it is
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/driftloop-sagemaker"},
    ]


@pytest.mark.parametrize(
    ("resource", "aws", "message"),
    [
        ("${Team}", AWS, r"uses \$\{Team\}, which infra render cannot fill in \(it knows "),
        ("${Prefix}", {**AWS, "prefix": ""}, r"uses \$\{Prefix\}, which the config leaves empty"),
    ],
)
def test_a_placeholder_the_settings_cannot_fill_is_refused(
    tmp_path: Path, resource: str, aws: dict[str, str], message: str
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"Statement": [{"Effect": "Allow", "Resource": resource}]}))
    with pytest.raises(ConfigError, match=f"^role policy {path} {message}"):
        describe(_settings(aws=aws), read_role_policy(path))
    path.write_text("[1]")
    with pytest.raises(ConfigError, match="is no IAM policy document"):
        read_role_policy(path)


def test_references_become_cloudformation_intrinsics() -> None:
    stack = describe(
        _settings(alarms=[LATENCY], notifications={"topics": [{"name": "ops"}]}), NO_POLICY
    )
    template = cloudformation.template(stack)
    resources = template["Resources"]
    assert resources["HighLatencyAlarm"]["Properties"]["AlarmActions"] == [{"Ref": "OpsTopic"}]
    redrive = resources["RetrainQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["RetrainDeadLetterQueue", "Arn"]}
    condition = resources["RetrainQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert condition["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/*"
    }
    body = resources["ChurnDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    parsed = json.loads(body.replace("${AWS::Region}", "r").replace("${AWS::Partition}", "p"))
    titles = [w["properties"]["title"] for w in parsed["widgets"]]
    assert titles[:3] == [
        "Invocations",
        "ModelLatency (microseconds)",
        "Invocation errors (4XX, 5XX)",
    ]
    assert template["Outputs"]["ArtifactsUri"]["Value"] == {"Fn::Sub": "s3://${Bucket}/churn/"}


def test_keys_are_unique_and_name_their_kind() -> None:
    keys = Keys()
    assert keys("HighLatencyAlarm", "Alarm") == "HighLatencyAlarm"
    assert keys("churn-data-drift", "Alarm") == "ChurnDataDriftAlarm"
    assert keys("churn_data_drift", "Alarm") == "ChurnDataDriftAlarm2"
    assert keys("5xx", "Alarm") == "Alarm5XxAlarm"
    assert snake("ChurnDataDriftAlarm2") == "churn_data_drift_alarm_2"


@pytest.mark.parametrize(
    "value",
    [
        {"AWSTemplateFormatVersion": "2010-09-09", "Type": "AWS::S3::Bucket"},
        {"words": ["yes", "No", "null", "~", "On", "1e3", "-x", "a: b", "a #b", "a:", ""]},
        {"nested": [{"a": [1, 2.5, True, None]}, [], {}, [[1], ["x"]]]},
        {"text": "line 1\n  line 2\n\nline 4", "end": "a\n", "lead": " a\nb", "tab": "a\tb"},
        {"sub": "${AWS::Region}", "quote": 'say "hi"', "unicode": "déjà vu"},
    ],
)
def test_yaml_reads_back_as_written(value: dict[str, Any]) -> None:
    assert yaml.safe_load(dump(value, "a comment")) == value


def test_json_text_fits_lines_and_reads_back() -> None:
    value = {"metrics": [["a" * 30, "b" * 30, "c" * 30, "d"], ["x"]], "empty": [], "o": {}}
    text = pretty(value)
    assert json.loads(text) == value
    assert '["x"]' in text and max(len(line) for line in text.splitlines()) <= 100
