"""docs/iam/sagemaker_role_policy.json: parliament finds nothing in it, it grants no wildcard
action and ``"Resource": "*"`` only where IAM has no resource to scope, and the checks the
session runs on the AWS calls driftloop made (tests/iam_recording.py) do refuse what they
should. The recorded calls themselves are checked when the session ends."""

from __future__ import annotations

import itertools
import json
import os
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import boto3
import pytest
from moto import mock_aws

from driftloop.backends.aws._s3 import Bucket
from driftloop.config import Settings, load_settings
from tests import iam_policy
from tests.iam_policy import (
    NO_RESOURCE_LEVEL,
    NOT_RECORDED,
    OPERATIONS,
    PLACEHOLDERS,
    Call,
    Scope,
    call,
    unallowed,
    unused,
)
from tests.iam_recording import Recorder, whole_suite

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ResourceWarning)  # parliament leaves its data files open
    import parliament
    from parliament import analyze_policy_string

ROOT = Path(__file__).resolve().parents[3]
ROLE = "arn:aws:iam::123456789012:role/driftloop-sagemaker"
EXAMPLE = Scope(
    region="us-east-1",
    bucket="driftloop-contracts",
    prefix="team/churn",
    queue="driftloop-deliveries",
    event_bus="default",
    model_name="churn-model",
    role_arn=ROLE,
)
"""The values the aws tests use (tests/aws.py)."""


def _document() -> dict[str, Any]:
    return iam_policy.load()


def _example() -> str:
    return json.dumps(iam_policy.substitute(_document(), EXAMPLE.values()))


@cache
def _definition() -> dict[str, dict[str, Any]]:
    """parliament's copy of the Service Authorization Reference: action -> privilege."""
    path = Path(parliament.__file__).parent / "iam_definition.json"
    return {
        f"{service['prefix']}:{privilege['privilege']}".lower(): privilege
        for service in json.loads(path.read_text())
        for privilege in service["privileges"]
    }


def _actions() -> set[str]:
    return {action for s in iam_policy.statements(_document()) for action in s.actions}


# --- the document


def test_parliament_finds_nothing_in_the_policy() -> None:
    policy = analyze_policy_string(_example())
    assert [(f.issue, f.detail) for f in policy.findings] == []


def test_parliament_community_auditors_flag_only_the_needed_permissions_management() -> None:
    """The optional community auditor calls four actions permissions management. Each is
    needed: CreateQueue sets the queue policy letting EventBridge send, CreateTopic makes the
    configured topics, SetTopicAttributes adds the statement letting EventBridge publish, and
    PassRole hands aws.role_arn to SageMaker (only to SageMaker, only that role)."""
    policy = analyze_policy_string(_example(), include_community_auditors=True)
    found = [(f.issue, sorted(f.location["actions"])) for f in policy.findings]
    expected = ["iam:passrole", "sns:createtopic", "sns:settopicattributes", "sqs:createqueue"]
    assert found == [("PERMISSIONS_MANAGEMENT_ACTIONS", expected)]


def test_the_placeholders_are_the_documented_ones() -> None:
    assert iam_policy.placeholders(_document()) == set(PLACEHOLDERS)
    with pytest.raises(KeyError):
        iam_policy.substitute(_document(), {"Bucket": "b"})


def test_statements_are_grouped_by_service() -> None:
    services = [{a.split(":")[0] for a in s.actions} for s in iam_policy.statements(_document())]
    assert all(len(one) == 1 for one in services)
    order = [next(iter(one)) for one in services]
    runs = [order[0], *(b for a, b in itertools.pairwise(order) if a != b)]
    assert len(runs) == len(set(runs)), runs  # each service's statements are together


def test_no_action_is_a_wildcard() -> None:
    actions = _actions()
    assert not [a for a in actions if "*" in a or "?" in a]
    assert all(a.lower() in _definition() for a in actions)


def test_star_resources_only_for_actions_iam_cannot_scope() -> None:
    starred = {
        action
        for s in iam_policy.statements(_document())
        if "*" in s.resources
        for action in s.actions
    }
    assert starred == NO_RESOURCE_LEVEL
    definition = _definition()
    for action in NO_RESOURCE_LEVEL:  # the list agrees with the Service Authorization Reference
        required = [
            r["resource_type"]
            for r in definition[action.lower()]["resource_types"]
            if r["resource_type"].endswith("*")
        ]
        assert required == [], (action, required)


def test_the_policy_grants_the_mapped_actions_and_nothing_else() -> None:
    mapped = {action for action in OPERATIONS.values() if action is not None}
    assert _actions() == mapped | set(NOT_RECORDED)
    assert not mapped & set(NOT_RECORDED)  # no boto3 operation names them: they are implied


# --- the checks can fail


def _s3(operation: str, scope: Scope = EXAMPLE, **params: str) -> Call:
    return call("s3", operation, {"Bucket": scope.bucket, **params}, scope)


def test_an_operation_missing_from_the_table_is_an_error() -> None:
    assert call("sts", "GetCallerIdentity", {}, EXAMPLE).requests == ()
    with pytest.raises(iam_policy.UnknownOperation, match=r"s3\.CopyObject"):
        call("s3", "CopyObject", {}, EXAMPLE)


def test_a_policy_missing_an_action_refuses_its_calls() -> None:
    deleted = _s3("DeleteObject", Key="team/churn/endpoints/churn.json")
    assert unallowed([deleted]) == []
    document = _document()
    for statement in document["Statement"]:
        if statement["Sid"] == "S3ObjectsUnderThePrefix":
            statement["Action"].remove("s3:DeleteObject")
    (line,) = unallowed([deleted], json.dumps(document))
    assert line.startswith("s3.DeleteObject -> s3:DeleteObject on arn:aws:s3:::driftloop-contracts")


def test_calls_outside_the_bucket_or_prefix_are_refused() -> None:
    inside = [
        _s3("PutObject", Key="team/churn/snapshots/a.parquet"),
        _s3("HeadObject", Key="team/churn/snapshots/a.parquet"),
        _s3("ListObjectsV2", Prefix="team/churn/datacapture/churn/", Delimiter="/"),
        _s3("HeadBucket"),
        _s3("GetBucketVersioning"),
    ]
    assert unallowed(inside) == []
    outside = [
        _s3("PutObject", Key="team/other/snapshots/a.parquet"),
        _s3("GetObject", Key="team/churnish/x"),
        _s3("ListObjectsV2", Prefix="team/"),
        call("s3", "GetObject", {"Bucket": "elsewhere", "Key": "team/churn/x"}, EXAMPLE),
    ]
    refused = unallowed(outside)
    assert [line.split(" on ")[0] for line in refused] == [
        "s3.GetObject -> s3:GetObject",
        "s3.ListObjectsV2 -> s3:ListBucket",
        "s3.PutObject -> s3:PutObject",
    ]
    assert "elsewhere/team/churn/x" in refused[0] and "team/churnish/x" in refused[0]


def test_other_queues_topics_and_namespaces_are_refused() -> None:
    url = "http://127.0.0.1:5000/123456789012/"
    allowed = [
        call("sqs", "ReceiveMessage", {"QueueUrl": url + "driftloop-deliveries"}, EXAMPLE),
        call(
            "sqs", "SendMessage", {"QueueUrl": url + "driftloop-deliveries-dead-letters"}, EXAMPLE
        ),
        call(
            "cloudwatch",
            "PutMetricData",
            {"Namespace": "aws/sagemaker/Endpoints/data-metrics", "MetricData": []},
            EXAMPLE,
        ),
        call("sns", "Subscribe", _subscribe("https"), EXAMPLE),
    ]
    assert unallowed(allowed) == []
    refused = [
        call("sqs", "ReceiveMessage", {"QueueUrl": url + "someone-elses"}, EXAMPLE),
        call("sqs", "SendMessage", {"QueueUrl": url + "driftloop-deliveries"}, EXAMPLE),
        call("cloudwatch", "PutMetricData", {"Namespace": "Custom", "MetricData": []}, EXAMPLE),
        call("sns", "Subscribe", _subscribe("lambda"), EXAMPLE),
        call(
            "cloudwatch",
            "PutMetricAlarm",
            {"AlarmName": "a", "AlarmActions": ["arn:aws:automate:us-east-1:ec2:terminate"]},
            EXAMPLE,
        ),
    ]
    assert [line.split(" on ")[0] for line in unallowed(refused)] == [
        "cloudwatch.PutMetricAlarm -> cloudwatch:PutMetricAlarm",
        "cloudwatch.PutMetricData -> cloudwatch:PutMetricData",
        "sns.Subscribe -> sns:Subscribe",
        "sqs.ReceiveMessage -> sqs:ReceiveMessage",
        "sqs.SendMessage -> sqs:SendMessage",
    ]


def _subscribe(protocol: str) -> dict[str, str]:
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    return {"TopicArn": topic, "Protocol": protocol, "Endpoint": "https://example.org/hook"}


@pytest.mark.parametrize(
    ("root", "refused"), [("team/churn/mlflow", False), ("mlflow", True), ("team/other", True)]
)
def test_mlflows_s3_artifact_store_is_allowed_under_the_prefix_only(
    root: str, refused: bool
) -> None:
    """MLflow's S3 store (training.artifact_root) makes its own clients, which the session
    does not record: these are the calls it makes for a run's artifacts."""
    folder = f"{root}/1/0123abcd/artifacts/model"
    calls = [
        _s3("ListObjectsV2", Prefix=f"{folder}/", Delimiter="/"),
        _s3("PutObject", Key=f"{folder}/MLmodel"),
        _s3("CreateMultipartUpload", Key=f"{folder}/model.pkl"),
        _s3("UploadPart", Key=f"{folder}/model.pkl"),
        _s3("CompleteMultipartUpload", Key=f"{folder}/model.pkl"),
        _s3("HeadObject", Key=f"{folder}/MLmodel"),
        _s3("GetObject", Key=f"{folder}/MLmodel"),
    ]
    delete = {"Bucket": EXAMPLE.bucket, "Delete": {"Objects": [{"Key": f"{folder}/MLmodel"}]}}
    calls.append(call("s3", "DeleteObjects", delete, EXAMPLE))
    found = unallowed(calls)
    assert len(found) == (len(calls) if refused else 0), found


def test_what_cloudwatch_refuses_itself_is_not_held_against_the_policy() -> None:
    own = call("cloudwatch", "PutMetricData", {"Namespace": "AWS/SageMaker"}, EXAMPLE)
    assert own.refused_by_aws.startswith("CloudWatch refuses PutMetricData in AWS/SageMaker")
    assert unallowed([own]) == []


def test_creating_a_model_implies_passing_the_role_and_tagging() -> None:
    request = {
        "ModelName": "churn-A-v1-0123abcd",
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"ModelPackageName": "arn:..."},
        "Tags": [{"Key": "driftloop:endpoint", "Value": "churn"}],
    }
    made = call("sagemaker", "CreateModel", request, EXAMPLE)
    model = "arn:aws:sagemaker:us-east-1:123456789012:model/churn-a-v1-0123abcd"
    assert [(r.action, r.resource, r.keys(), r.implied) for r in made.requests] == [
        ("sagemaker:CreateModel", model, {}, False),
        ("iam:PassRole", ROLE, {"iam:passedtoservice": ("sagemaker.amazonaws.com",)}, True),
        ("sagemaker:AddTags", model, {"sagemaker:taggingaction": ("CreateModel",)}, True),
    ]
    assert unallowed([made]) == []
    assert Call.from_json(json.loads(json.dumps(made.as_json()))) == made  # --iam-calls' lines
    other_role = {**request, "ExecutionRoleArn": "arn:aws:iam::123456789012:role/admin"}
    (line,) = unallowed([call("sagemaker", "CreateModel", other_role, EXAMPLE)])
    assert line.startswith("sagemaker.CreateModel -> iam:PassRole on arn:aws:iam::123456789012:")


def test_training_jobs_and_packages_are_the_configured_models() -> None:
    job = {"TrainingJobName": "churn-model-2026-03-01-10-00-00-000", "RoleArn": ROLE}
    package = {"ModelPackageGroupName": "churn-model"}
    ours = [
        call("sagemaker", "CreateTrainingJob", job, EXAMPLE),
        call("sagemaker", "CreateModelPackage", package, EXAMPLE),
    ]
    assert unallowed(ours) == []
    theirs = [
        call("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "fraud-1"}, EXAMPLE),
        call("sagemaker", "CreateModelPackage", {"ModelPackageGroupName": "fraud"}, EXAMPLE),
    ]
    assert [line.split(" on ")[0] for line in unallowed(theirs)] == [
        "sagemaker.CreateModelPackage -> sagemaker:CreateModelPackage",
        "sagemaker.DescribeTrainingJob -> sagemaker:DescribeTrainingJob",
    ]


def test_what_no_call_needed_is_reported_as_more_than_needed() -> None:
    calls = [_s3("PutObject", Key="team/churn/a"), _s3("GetObject", Key="team/churn/a")]
    extra = unused(calls)
    prefix = "arn:${AWS::Partition}:s3:::${Bucket}/${Prefix}/*"
    assert f"S3ObjectsUnderThePrefix: s3:DeleteObject on {prefix}" in extra
    assert f"S3ObjectsUnderThePrefix: s3:PutObject on {prefix}" not in extra
    assert len(extra) == sum(len(s.actions) * len(s.resources) for s in _statements()) - 2


def _statements() -> list[iam_policy.Statement]:
    return iam_policy.statements(_document())


def test_the_evaluation_refuses_what_it_does_not_model() -> None:
    document = _document()
    document["Statement"][0]["Condition"] = {"NumericLessThan": {"s3:max-keys": "10"}}
    with pytest.raises(ValueError, match="NumericLessThan is not modelled"):
        iam_policy.statements(document)
    document["Statement"][0] = {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    with pytest.raises(ValueError, match="only Allow"):
        iam_policy.statements(document)


# --- the recording


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="recorded")
        aws = {"region": "us-east-1", "bucket": "recorded", "prefix": "p/q", "max_attempts": 1}
        yield load_settings(home=tmp_path / "ws", backend={"kind": "aws"}, aws=aws)


def test_driftloop_calls_are_recorded_and_the_tests_own_are_not(
    settings: Settings, iam_calls: list[Call], request: pytest.FixtureRequest
) -> None:
    bucket = Bucket(settings)
    bucket.put("a.json", b"{}")
    # the test's own calls: through driftloop's client, and through a client of its own
    bucket.s3.get_object(Bucket="recorded", Key="p/q/a.json")
    boto3.client("s3", region_name="us-east-1").head_object(Bucket="recorded", Key="p/q/a.json")
    assert bucket.get("a.json") == b"{}"
    mine = [made for made in iam_calls if made.test == request.node.nodeid]
    assert [made.name for made in mine] == ["s3.PutObject", "s3.GetObject"]
    assert mine[0].requests == (
        iam_policy.Request("s3:PutObject", "arn:aws:s3:::recorded/p/q/a.json"),
    )
    scope = mine[0].scope
    assert (scope.bucket, scope.prefix, scope.region) == ("recorded", "p/q", "us-east-1")


def _session(*args: str, root: Path = ROOT, **option: Any) -> pytest.Session:
    options = {"keyword": "", "markexpr": "", "deselect": None, "ignore": None}
    config = SimpleNamespace(
        args=list(args),
        rootpath=root,
        invocation_params=SimpleNamespace(dir=root),
        option=SimpleNamespace(**{**options, "ignore_glob": None, "collectonly": False, **option}),
    )
    fake = SimpleNamespace(config=config, testsfailed=0, shouldfail=False, shouldstop=False)
    return cast(pytest.Session, fake)


def test_the_whole_suite_is_told_from_a_selection() -> None:
    assert whole_suite(_session("tests"), Recorder()) is None
    assert whole_suite(_session(str(ROOT)), Recorder()) is None
    assert whole_suite(_session(os.fspath(ROOT / "tests")), Recorder()) is None
    assert "a selection" in str(whole_suite(_session("tests/unit"), Recorder()))
    assert "a selection" in str(whole_suite(_session("tests/unit/a.py::test_b"), Recorder()))
    assert "a selection" in str(whole_suite(_session("tests", "tests/unit"), Recorder()))
    assert "--keyword" in str(whole_suite(_session("tests", keyword="aws"), Recorder()))
    assert "--markexpr" in str(whole_suite(_session("tests", markexpr="not slow"), Recorder()))
    assert "--ignore" in str(whole_suite(_session("tests", ignore=["tests/e2e"]), Recorder()))
    assert "deselected" in str(whole_suite(_session("tests"), Recorder(deselected=3)))
    skipped = Recorder(skipped=["tests/x.py::test_y"])
    assert "skipped" in str(whole_suite(_session("tests"), skipped))
    failed = _session("tests")
    failed.testsfailed = 1
    assert whole_suite(failed, Recorder()) == "not every test passed"
