"""``driftloop infra render`` with the real tools: cfn-lint passes on the template (and fails on
a broken copy), the template becomes a stack on moto's CloudFormation and driftloop's aws
backend takes what it made as its own, python-hcl2 reads the Terraform module and finds the
same resources, names and thresholds, and the checked-in ``infra/`` is what render writes.

moto 5.2.5's CloudFormation does not create every resource type of the template. It drops
``AWS::CloudWatch::Alarm``, ``AWS::SNS::TopicPolicy`` and ``AWS::SQS::QueuePolicy`` (the
stack completes without them), and it makes the ``AWS::S3::Bucket`` without its
VersioningConfiguration and PublicAccessBlockConfiguration. The smoke test says so in
:data:`MOTO_DROPS` and puts each dropped alarm with PutMetricAlarm from the template's own
properties instead, so driftloop's alarm store can read it back. Terraform's ``validate`` and
``plan`` need the AWS provider, which cannot be downloaded here: only ``terraform fmt`` runs,
when terraform is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import hcl2
import pytest
import requests
import yaml

from driftloop.alarms.definition import parse_alarm, topics
from driftloop.backends.aws._queues import DeliveryQueues
from driftloop.backends.catalog import Backends
from driftloop.config import AWS_SERVICES, Settings, load_settings
from driftloop.events.delivery_queue import DELIVERY_ATTEMPTS, dead_letter_queue
from driftloop.events.rules import parse_rule
from driftloop.infra.naming import snake
from driftloop.infra.policy import POLICY_FILE, read_role_policy
from driftloop.infra.render import CLOUDFORMATION, TERRAFORM, Rendered, render, write
from tests.conftest import tree

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
EXAMPLE = INFRA / "driftloop.example.toml"
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
RERENDER = "driftloop --config infra/driftloop.example.toml infra render --output infra"
MOTO_DROPS = {"AWS::CloudWatch::Alarm", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy"}
"""Resource types moto's CloudFormation skips (it logs "No Moto CloudFormation support")."""

TF_TYPES = {
    "AWS::S3::Bucket": "aws_s3_bucket",
    "AWS::IAM::Role": "aws_iam_role",
    "AWS::SNS::Topic": "aws_sns_topic",
    "AWS::SNS::TopicPolicy": "aws_sns_topic_policy",
    "AWS::SQS::Queue": "aws_sqs_queue",
    "AWS::SQS::QueuePolicy": "aws_sqs_queue_policy",
    "AWS::Events::EventBus": "aws_cloudwatch_event_bus",
    "AWS::Events::Rule": "aws_cloudwatch_event_rule",
    "AWS::CloudWatch::Alarm": "aws_cloudwatch_metric_alarm",
    "AWS::CloudWatch::Dashboard": "aws_cloudwatch_dashboard",
}
"""CloudFormation's type and the AWS provider's type of the same resource."""
TF_PARTS = {
    # the provider's separate resources for what CloudFormation keeps inside a resource
    "aws_s3_bucket_versioning": "aws_s3_bucket",
    "aws_s3_bucket_server_side_encryption_configuration": "aws_s3_bucket",
    "aws_s3_bucket_public_access_block": "aws_s3_bucket",
    "aws_iam_role_policy": "aws_iam_role",
    "aws_sns_topic_subscription": "aws_sns_topic",
    "aws_cloudwatch_event_target": "aws_cloudwatch_event_rule",
}

BROAD = """
[aws]
region = "eu-west-1"
bucket = "team-ml"
prefix = ""
role_arn = "arn:aws:iam::123456789012:role/ml/driftloop"
queue = "team-deliveries"
event_bus = "ml-events"

[serving]
endpoint = "churn"

[[monitoring.schedules]]
endpoint = "upsell"

[[alarms]]
AlarmName = "churn-p99"
Namespace = "AWS/SageMaker"
MetricName = "ModelLatency"
Dimensions = [{Name = "EndpointName", Value = "churn"}, {Name = "VariantName", Value = "A"}]
ExtendedStatistic = "p99"
EvaluateLowSampleCountPercentile = "ignore"
Period = 30
EvaluationPeriods = 5
DatapointsToAlarm = 3
Threshold = 2500.5
ComparisonOperator = "GreaterThanOrEqualToThreshold"
AlarmActions = ["arn:aws:sns:eu-west-1:123456789012:pager"]
InsufficientDataActions = ["ops"]

[[rules]]
name = "everything"
enabled = false
targets = [{type = "notify", topic = "ops"}, {type = "notify", topic = "audit"}]

[[rules]]
name = "numeric"
event_pattern = {detail = {rows = [{numeric = [">", 300.5]}]}}
targets = [{type = "retrain"}]

[[notifications.topics]]
name = "ops"
[[notifications.topics.subscriptions]]
protocol = "email"
endpoint = "first@example.com"
[[notifications.topics.subscriptions]]
protocol = "email"
endpoint = "second@example.com"
[[notifications.topics.subscriptions]]
protocol = "webhook"
endpoint = "https://hooks.example.com/ops"
"""
"""A config reaching what the example does not: a bus of its own, percentiles, a disabled
match-all rule, a topic managed elsewhere, several subscriptions, two endpoints."""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("DRIFTLOOP_"):
            monkeypatch.delenv(key)


@pytest.fixture
def example(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Rendered:
    """The example config rendered as `driftloop infra render` renders it at the root."""
    monkeypatch.chdir(REPO)
    return render(load_settings(EXAMPLE), read_role_policy())


@pytest.fixture
def broad(clean_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The broad config rendered into a folder, with a role policy file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "driftloop.toml").write_text(BROAD)
    policy = tmp_path / POLICY_FILE
    policy.parent.mkdir(parents=True)
    policy.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::team-ml/*",
                    }
                ],
            }
        )
    )
    rendered = render(load_settings(tmp_path / "driftloop.toml"), read_role_policy())
    write(rendered, tmp_path / "infra")
    return tmp_path / "infra"


def test_the_checked_in_infra_is_what_render_writes(example: Rendered) -> None:
    stale = [
        str(path)
        for path, text in example.files.items()
        if not (INFRA / path).is_file() or (INFRA / path).read_text() != text
    ]
    assert not stale, f"infra/ is stale ({', '.join(stale)}): run `{RERENDER}`"


def test_the_role_policy_is_the_file_once_it_exists(example: Rendered) -> None:
    role = _cloudformation(example)["Resources"]["SageMakerExecutionRole"]["Properties"]
    if not (REPO / POLICY_FILE).is_file():
        assert "Policies" not in role
        assert str(POLICY_FILE) in role["Description"]
        assert any(str(POLICY_FILE) in note for note in example.notes)
        return
    settings = load_settings(EXAMPLE)
    aws = settings.aws
    assert aws.bucket and aws.role_arn
    values = {  # what each of the file's placeholders stands for in the example
        "Bucket": aws.bucket,
        "Prefix": aws.prefix.strip("/"),
        "Queue": aws.queue,
        "EventBus": aws.event_bus,
        "ModelName": settings.registry.model_name.lower(),
        "ExecutionRoleName": aws.role_arn.rsplit("/", 1)[-1],
    }
    document = json.loads(
        re.sub(
            r"\$\{(\w+)\}",
            lambda match: values.get(match[1], match[0]),
            (REPO / POLICY_FILE).read_text(),
        )
    )
    [policy] = role["Policies"]
    assert policy["PolicyName"] == "driftloop"
    assert _without_sub(policy["PolicyDocument"]) == document


def _without_sub(value: Any) -> Any:
    """A CloudFormation value with each ``Fn::Sub`` replaced by its text."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        return str(value["Fn::Sub"]).replace("${!", "${")
    if isinstance(value, dict):
        return {key: _without_sub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_sub(item) for item in value]
    return value


def _lint(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CFN_LINT), *options, "--", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("which", ["checked-in", "broad"])
def test_cfn_lint_passes(which: str, request: pytest.FixtureRequest) -> None:
    path = (
        INFRA / CLOUDFORMATION
        if which == "checked-in"
        else request.getfixturevalue("broad") / CLOUDFORMATION
    )
    linted = _lint(path)
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize(
    ("resource", "break_it", "rule"),
    [
        (
            "HighLatencyAlarm",
            lambda properties: properties.update(ComparisonOperator="GreaterThan"),
            "E3030",
        ),
        (
            "SageMakerExecutionRole",
            lambda properties: properties.pop("AssumeRolePolicyDocument"),
            "E3003",
        ),
    ],
    ids=["alarm-with-a-bad-comparison-operator", "role-without-its-trust-policy"],
)
def test_cfn_lint_fails_on_a_broken_copy(
    tmp_path: Path, resource: str, break_it: Any, rule: str
) -> None:
    template = yaml.safe_load((INFRA / CLOUDFORMATION).read_text())
    break_it(template["Resources"][resource]["Properties"])
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(template, sort_keys=False))
    linted = _lint(broken, "--format", "json")
    assert linted.returncode != 0
    found = [(m["Rule"]["Id"], m["Location"]["Path"][:2]) for m in json.loads(linted.stdout)]
    assert (rule, ["Resources", resource]) in found, found


@pytest.mark.parametrize("which", ["checked-in", "broad"])
def test_terraform_declares_what_cloudformation_declares(
    which: str, request: pytest.FixtureRequest
) -> None:
    folder = INFRA if which == "checked-in" else request.getfixturevalue("broad")
    template = yaml.safe_load((folder / CLOUDFORMATION).read_text())
    module = _terraform(folder / TERRAFORM)
    cfn, tf = _declared_by_cloudformation(template), _declared_by_terraform(module)
    assert cfn["resources"] == tf["resources"]
    for part_type, owner_type in TF_PARTS.items():
        for name in module.get(part_type, {}):
            assert any(name.startswith(owned) for owned in module[owner_type]), (part_type, name)
    for aspect in ("names", "alarms", "rules", "queues", "topics", "roles", "parameters"):
        assert cfn[aspect] == tf[aspect], aspect
    assert cfn["dashboards"] == tf["dashboards"]


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_fmt_leaves_the_module_as_it_is(broad: Path) -> None:
    for folder in (INFRA / TERRAFORM, broad / TERRAFORM):
        checked = subprocess.run(
            ["terraform", "fmt", "-check", "-diff", str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")
def test_the_template_is_a_stack_on_moto_that_driftloop_takes_as_its_own(
    moto_url: str, example: Rendered, tmp_path: Path
) -> None:
    requests.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    settings = _against(load_settings(EXAMPLE), moto_url, tmp_path)
    aws = {
        name: boto3.client(name, region_name=settings.aws.region, endpoint_url=moto_url)
        for name in ("cloudformation", "s3", "sns", "sqs", "events", "cloudwatch", "iam")
    }
    body = (INFRA / CLOUDFORMATION).read_text()
    template = yaml.safe_load(body)
    aws["cloudformation"].create_stack(StackName="driftloop", TemplateBody=body)
    [stack] = aws["cloudformation"].describe_stacks(StackName="driftloop")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    made = {
        item["LogicalResourceId"]: item["PhysicalResourceId"]
        for item in aws["cloudformation"].describe_stack_resources(StackName="driftloop")[
            "StackResources"
        ]
        if "LogicalResourceId" in item  # moto lists the resources it skipped without one
    }
    declared = template["Resources"]
    assert {declared[key]["Type"] for key in made} == {
        resource["Type"] for resource in declared.values()
    } - MOTO_DROPS
    assert set(made) == {key for key, value in declared.items() if value["Type"] not in MOTO_DROPS}

    # the bucket (moto leaves its versioning off: driftloop's backend check turns it on)
    bucket = settings.aws.bucket
    assert made["Bucket"] == bucket
    encryption = aws["s3"].get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # the role
    role = aws["iam"].get_role(RoleName="driftloop-sagemaker")["Role"]
    assert role["Arn"] == settings.aws.role_arn
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "sagemaker.amazonaws.com"
    }
    if "Policies" in declared["SageMakerExecutionRole"]["Properties"]:
        inline = aws["iam"].get_role_policy(RoleName=role["RoleName"], PolicyName="driftloop")
        assert "${AWS::" not in json.dumps(inline["PolicyDocument"])  # moto filled in Fn::Sub
    # the topic and its email subscription
    [subscription] = aws["sns"].list_subscriptions_by_topic(TopicArn=made["OpsTopic"])[
        "Subscriptions"
    ]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "oncall@example.com")
    # the queues, as the aws backend reads them
    queues = DeliveryQueues(settings).main
    assert queues.max_receives == DELIVERY_ATTEMPTS
    assert queues.dead_letter_arn is not None
    assert queues.dead_letter_arn.endswith(f":{dead_letter_queue(settings.aws.queue)}")
    # the rule and its targets, as driftloop's rule store lists its own rules
    stores = Backends.from_settings(settings)
    [rule] = stores.rules.list()
    assert rule == parse_rule(settings.rules[0])
    # the dashboard (moto makes it)
    dashboard = aws["cloudwatch"].get_dashboard(DashboardName="driftloop-churn")
    titles = [w["properties"]["title"] for w in json.loads(dashboard["DashboardBody"])["widgets"]]
    assert "ModelLatency (microseconds)" in titles

    # moto skips the alarms: each is put with the template's own properties, which are
    # PutMetricAlarm's fields, and driftloop's alarm store reads back the configured alarm
    for resource in declared.values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            aws["cloudwatch"].put_metric_alarm(**_resolved(resource["Properties"], made))
    for configured in settings.alarms:
        alarm = parse_alarm(configured)
        stored = stores.alarms.get(alarm.alarm_name).definition
        assert stored.model_dump(exclude={"alarm_actions", "ok_actions"}) == alarm.model_dump(
            exclude={"alarm_actions", "ok_actions"}
        )
        assert topics(stored.alarm_actions) == alarm.alarm_actions
        assert topics(stored.ok_actions) == alarm.ok_actions

    # drift -> the rule -> the queue -> driftloop's consumer hands it to the retrain handler;
    # moto's PutEvents fails on a rule with an SNS target (it delivers to none), so the
    # rule's notify target is taken off first
    notify = [t["Id"] for t in aws["events"].list_targets_by_rule(Rule=rule.name)["Targets"]]
    aws["events"].remove_targets(Rule=rule.name, Ids=[i for i in notify if i.endswith("-notify")])
    event = stores.events.emit(
        "driftloop.monitoring",
        "Monitoring Run Completed",
        {"endpoint": "churn", "status": "CompletedWithViolations"},
    )
    handled: list[tuple[Any, dict[str, Any]]] = []
    report = stores.events.deliver_pending({"retrain": lambda t, e: handled.append((t, e))})
    assert report.delivered == 1
    [(target, delivered)] = handled
    assert target.type == "retrain" and delivered["id"] == event["id"]


def test_cli_render_writes_both_renderings(home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    config = home.parent / "driftloop.toml"
    config.write_text(EXAMPLE.read_text())
    result = cli("--config", str(config), "infra", "render", "--output", "out")
    assert result.code == 0, result.err
    out = home.parent / "out"
    assert tree(out) == {
        "cloudformation.yaml",
        "terraform/main.tf",
        "terraform/variables.tf",
        "terraform/outputs.tf",
    }
    assert "wrote out/cloudformation.yaml" in result.out
    assert "sagemaker_role_policy.json does not exist" in result.err  # no policy file here
    rendered = render(load_settings(config), read_role_policy())
    assert all((out / path).read_text() == text for path, text in rendered.files.items())


@pytest.mark.parametrize(
    ("config", "code", "message"),
    [
        (
            '[aws]\nrole_arn = "arn:aws:iam::123456789012:role/x"\n',
            2,
            "infra render needs aws.bucket in the config: ",
        ),
        (
            '[aws]\nbucket = "team-ml"\nrole_arn = "arn:aws:iam::123456789012:role/x"\n'
            '[[rules]]\nname = "run"\ntargets = [{type = "command", command = ["true"]}]\n',
            2,
            "rule 'run': command targets run local programs",
        ),
    ],
    ids=["no-bucket", "command-target"],
)
def test_cli_render_refuses_in_one_sentence_and_writes_nothing(
    home: Path,
    cli,  # type: ignore[no-untyped-def]
    config: str,
    code: int,
    message: str,
) -> None:
    path = home.parent / "driftloop.toml"
    path.write_text(config)
    before = tree(home.parent)
    result = cli("--config", str(path), "infra", "render", "--output", "out")
    assert result.code == code
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert tree(home.parent) == before


def test_a_failed_write_leaves_nothing(home: Path, cli) -> None:  # type: ignore[no-untyped-def]
    path = home.parent / "driftloop.toml"
    path.write_text(EXAMPLE.read_text())
    (home.parent / "out").mkdir()
    (home.parent / "out" / "terraform").write_text("a file where the folder goes")
    before = tree(home.parent)
    result = cli("--config", str(path), "infra", "render", "--output", "out")
    assert result.code == 1
    assert "infra render cannot write" in result.err
    assert tree(home.parent) == before


# ---------------------------------------------------------------- reading both renderings


def _cloudformation(rendered: Rendered) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(rendered.files[CLOUDFORMATION])
    return loaded


def _terraform(folder: Path) -> dict[str, Any]:
    """``{type: {name: body}}`` of the module's resources, plus ``variable`` and ``output``."""
    found: dict[str, Any] = {}
    for file in sorted(folder.glob("*.tf")):
        parsed = hcl2.loads(file.read_text())
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                for name, body in named.items():
                    found.setdefault(_text(kind), {})[_text(name)] = body
        for section in ("variable", "output"):
            for block in parsed.get(section, []):
                for name, body in block.items():
                    found.setdefault(section, {})[_text(name)] = body
    return found


def _text(value: Any) -> Any:
    """python-hcl2 keeps a string's quotes: the string itself; expressions stay as they are."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value).replace("$${", "${").replace("%%{", "%{")
    return value


def _ref(value: Any) -> str:
    """The ``type.name`` a Terraform expression like ``${aws_sns_topic.ops.arn}`` refers to."""
    match = re.fullmatch(r"\$\{(\w+)\.(\w+)\.\w+\}", str(value))
    assert match, value
    return f"{match[1]}.{match[2]}"


def _declared_by_cloudformation(template: dict[str, Any]) -> dict[str, Any]:
    resources = template["Resources"]
    parameters = template.get("Parameters", {})

    def of(kind: str) -> dict[str, dict[str, Any]]:
        return {k: v["Properties"] for k, v in resources.items() if v["Type"] == kind}

    topic_names = {key: p["TopicName"] for key, p in of("AWS::SNS::Topic").items()}
    queue_names = {key: p["QueueName"] for key, p in of("AWS::SQS::Queue").items()}

    def target(value: Any) -> str:
        if isinstance(value, dict) and "Ref" in value:
            return f"topic {topic_names[value['Ref']]}"
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return f"queue {queue_names[value['Fn::GetAtt'][0]]}"
        return f"arn {json.dumps(value, sort_keys=True)}"

    def endpoint(value: Any) -> Any:
        return parameters[value["Ref"]]["Default"] if isinstance(value, dict) else value

    return {
        "resources": {(TF_TYPES[v["Type"]], snake(k)) for k, v in resources.items()},
        "names": sorted(
            (TF_TYPES[kind], properties[field])
            for kind, field in (
                ("AWS::S3::Bucket", "BucketName"),
                ("AWS::IAM::Role", "RoleName"),
                ("AWS::SNS::Topic", "TopicName"),
                ("AWS::SQS::Queue", "QueueName"),
                ("AWS::Events::EventBus", "Name"),
                ("AWS::Events::Rule", "Name"),
                ("AWS::CloudWatch::Alarm", "AlarmName"),
                ("AWS::CloudWatch::Dashboard", "DashboardName"),
            )
            for properties in of(kind).values()
        ),
        "alarms": {
            p["AlarmName"]: {
                "namespace": p["Namespace"],
                "metric": p["MetricName"],
                "dimensions": {d["Name"]: d["Value"] for d in p.get("Dimensions", [])},
                "statistic": p.get("Statistic") or p.get("ExtendedStatistic"),
                "low_sample_count": p.get("EvaluateLowSampleCountPercentile"),
                "period": p["Period"],
                "evaluation_periods": p["EvaluationPeriods"],
                "datapoints": p["DatapointsToAlarm"],
                "threshold": float(p["Threshold"]),
                "operator": p["ComparisonOperator"],
                "missing": p["TreatMissingData"],
                "unit": p.get("Unit"),
                "actions": [
                    [target(action) for action in p.get(field, [])]
                    for field in ("AlarmActions", "OKActions", "InsufficientDataActions")
                ],
            }
            for p in of("AWS::CloudWatch::Alarm").values()
        },
        "rules": {
            p["Name"]: {
                "bus": p["EventBusName"]
                if isinstance(p["EventBusName"], str)
                else resources[p["EventBusName"]["Ref"]]["Properties"]["Name"],
                "description": p["Description"],
                "pattern": p["EventPattern"],
                "state": p["State"],
                "targets": [
                    (t["Id"], target(t["Arn"]), t.get("InputTransformer", {}).get("InputTemplate"))
                    for t in p.get("Targets", [])
                ],
            }
            for p in of("AWS::Events::Rule").values()
        },
        "queues": {
            p["QueueName"]: {
                "visibility": p.get("VisibilityTimeout"),
                "retention": p.get("MessageRetentionPeriod"),
                "receives": int(p["RedrivePolicy"]["maxReceiveCount"])
                if "RedrivePolicy" in p
                else None,
                "dead_letters": queue_names[
                    p["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
                ]
                if "RedrivePolicy" in p
                else None,
            }
            for p in of("AWS::SQS::Queue").values()
        },
        "topics": {
            p["TopicName"]: sorted(
                (s["Protocol"], endpoint(s["Endpoint"])) for s in p.get("Subscription", [])
            )
            for p in of("AWS::SNS::Topic").values()
        },
        "roles": {
            p["RoleName"]: (p["Path"], "Policies" in p) for p in of("AWS::IAM::Role").values()
        },
        "parameters": sorted((snake(k), v["Default"]) for k, v in parameters.items()),
        "dashboards": {
            p["DashboardName"]: _strings_of_json(p["DashboardBody"])
            for p in of("AWS::CloudWatch::Dashboard").values()
        },
    }


def _declared_by_terraform(module: dict[str, Any]) -> dict[str, Any]:
    def of(kind: str) -> dict[str, dict[str, Any]]:
        return {
            name: {k: _text(v) for k, v in body.items()}
            for name, body in module.get(kind, {}).items()
        }

    topic_names = {f"aws_sns_topic.{n}": b["name"] for n, b in of("aws_sns_topic").items()}
    queue_names = {f"aws_sqs_queue.{n}": b["name"] for n, b in of("aws_sqs_queue").items()}
    buses = {
        f"aws_cloudwatch_event_bus.{n}": b["name"]
        for n, b in of("aws_cloudwatch_event_bus").items()
    }
    variables = {name: _text(body["default"]) for name, body in module.get("variable", {}).items()}

    def target(value: Any) -> str:
        value = _text(value)
        if str(value).startswith("${aws_sns_topic."):
            return f"topic {topic_names[_ref(value)]}"
        if str(value).startswith("${aws_sqs_queue."):
            return f"queue {queue_names[_ref(value)]}"
        return f"arn {_arn_as_cloudformation(value)}"

    def endpoint(value: Any) -> Any:
        match = re.fullmatch(r"\$\{var\.(\w+)\}", str(value))
        return variables[match[1]] if match else value

    targets: dict[str, list[Any]] = {}
    for body in of("aws_cloudwatch_event_target").values():
        transformer = body.get("input_transformer", [{}])[0]
        template = _text(transformer.get("input_template"))
        targets.setdefault(_ref(body["rule"]), []).append(
            (body["target_id"], target(body["arn"]), template)
        )
    subscriptions: dict[str, list[Any]] = {}
    for body in of("aws_sns_topic_subscription").values():
        subscriptions.setdefault(topic_names[_ref(body["topic_arn"])], []).append(
            (body["protocol"], endpoint(body["endpoint"]))
        )
    policies = {_ref(body["role"]) for body in of("aws_iam_role_policy").values()}
    return {
        "resources": {(kind, name) for kind in TF_TYPES.values() for name in module.get(kind, {})},
        "names": sorted(
            (kind, body[field])
            for kind, field in (
                ("aws_s3_bucket", "bucket"),
                ("aws_iam_role", "name"),
                ("aws_sns_topic", "name"),
                ("aws_sqs_queue", "name"),
                ("aws_cloudwatch_event_bus", "name"),
                ("aws_cloudwatch_event_rule", "name"),
                ("aws_cloudwatch_metric_alarm", "alarm_name"),
                ("aws_cloudwatch_dashboard", "dashboard_name"),
            )
            for body in of(kind).values()
        ),
        "alarms": {
            b["alarm_name"]: {
                "namespace": b["namespace"],
                "metric": b["metric_name"],
                "dimensions": {k: _text(v) for k, v in b.get("dimensions", {}).items()},
                "statistic": b.get("statistic") or b.get("extended_statistic"),
                "low_sample_count": b.get("evaluate_low_sample_count_percentiles"),
                "period": b["period"],
                "evaluation_periods": b["evaluation_periods"],
                "datapoints": b["datapoints_to_alarm"],
                "threshold": float(b["threshold"]),
                "operator": b["comparison_operator"],
                "missing": b["treat_missing_data"],
                "unit": b.get("unit"),
                "actions": [
                    [target(action) for action in b.get(field, [])]
                    for field in ("alarm_actions", "ok_actions", "insufficient_data_actions")
                ],
            }
            for b in of("aws_cloudwatch_metric_alarm").values()
        },
        "rules": {
            b["name"]: {
                "bus": buses.get(_ref(b["event_bus_name"]))
                if str(b["event_bus_name"]).startswith("${")
                else b["event_bus_name"],
                "description": b["description"],
                "pattern": json.loads(b["event_pattern"]),
                "state": b["state"],
                "targets": targets.get(f"aws_cloudwatch_event_rule.{name}", []),
            }
            for name, b in of("aws_cloudwatch_event_rule").items()
        },
        "queues": {
            b["name"]: {
                "visibility": b.get("visibility_timeout_seconds"),
                "retention": b.get("message_retention_seconds"),
                "receives": int(re.search(r'maxReceiveCount *= *"?(\d+)', b["redrive_policy"])[1])  # type: ignore[index]
                if "redrive_policy" in b
                else None,
                "dead_letters": queue_names[
                    _ref(
                        "${"
                        + re.search(r"deadLetterTargetArn *= *([\w.]+)", b["redrive_policy"])[1]
                        + "}"
                    )  # type: ignore[index]
                ]
                if "redrive_policy" in b
                else None,
            }
            for b in of("aws_sqs_queue").values()
        },
        "topics": {
            b["name"]: sorted(subscriptions.get(b["name"], []))
            for b in of("aws_sns_topic").values()
        },
        "roles": {
            b["name"]: (b["path"], f"aws_iam_role.{name}" in policies)
            for name, b in of("aws_iam_role").items()
        },
        "parameters": sorted((n, v) for n, v in variables.items() if n != "region"),
        "dashboards": {
            b["dashboard_name"]: _strings_of_hcl(b["dashboard_body"])
            for b in of("aws_cloudwatch_dashboard").values()
        },
    }


PSEUDO = {
    "data.aws_partition.current.partition": "AWS::Partition",
    "data.aws_region.current.name": "AWS::Region",
    "data.aws_caller_identity.current.account_id": "AWS::AccountId",
}
"""Terraform's data source of each value CloudFormation has as a pseudo parameter."""


def _as_cloudformation(text: str) -> str:
    """A Terraform string template over the data sources as the ``Fn::Sub`` text of it."""
    for data, pseudo in PSEUDO.items():
        text = text.replace("${" + data + "}", "${" + pseudo + "}")
    return text


def _arn_as_cloudformation(value: Any) -> str:
    """A Terraform ARN (a literal or a template over the data sources) written as the
    CloudFormation value of the same ARN, for comparing the two."""
    text = str(value)
    if "${" not in text:
        return json.dumps(text)
    return json.dumps({"Fn::Sub": _as_cloudformation(text)}, sort_keys=True)


def _strings_of_json(body: Any) -> list[str]:
    """Every string value of a CloudFormation dashboard body (an ``Fn::Sub`` of JSON text),
    its placeholders as they are, but the region."""
    text = body["Fn::Sub"] if isinstance(body, dict) else body
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(text))
    return sorted(value for value in found if value != "${AWS::Region}")


def _strings_of_hcl(expression: str) -> list[str]:
    """Every string literal of a ``jsonencode({...})`` expression (its keys are bare words,
    the region a reference), with Terraform's data sources written as pseudo parameters."""
    literals = re.findall(r'"((?:[^"\\]|\\.)*)"', expression)
    return sorted(_as_cloudformation(_text(f'"{literal}"')) for literal in literals)


def _resolved(value: Any, made: dict[str, str]) -> Any:
    """An alarm's properties with ``Ref``s to the stack's resources replaced by what moto made."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return made[value["Ref"]]
    if isinstance(value, dict):
        return {key: _resolved(item, made) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, made) for item in value]
    return value


def _against(settings: Settings, url: str, home: Path) -> Settings:
    """``settings`` with every AWS service at moto's ``url``, one attempt per call."""
    aws = settings.aws.model_dump() | {
        "endpoint_urls": dict.fromkeys(AWS_SERVICES, url),
        "max_attempts": 1,
    }
    return load_settings(EXAMPLE, home=home / ".driftloop", aws=aws)
