"""The IAM side of driftloop's AWS calls: which IAM action (and resource, and condition keys)
each boto3 operation of the aws backend needs, and whether docs/iam/sagemaker_role_policy.json
allows it.

``OPERATIONS`` is the one table from boto3 operations to IAM actions. The policy names its
resources with CloudFormation ``Fn::Sub`` placeholders (``PLACEHOLDERS``); a recorded call is
checked against the policy with the placeholders set to what the settings of the client that
made it say (its bucket, prefix, queue, ...), so a call outside the configured bucket, prefix
or queue is refused as IAM would refuse it.

The evaluation is IAM's for what the policy uses: Allow statements, ``*`` and ``?`` wildcards in
actions (case-insensitive) and resources, and the condition operators ``StringEquals``,
``StringLike``, ``ArnLike`` with the ``IfExists`` suffix and the ``ForAllValues:`` /
``ForAnyValue:`` qualifiers. Anything else in the policy is an error, not a silent allow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

POLICY = Path(__file__).resolve().parents[1] / "docs" / "iam" / "sagemaker_role_policy.json"
ACCOUNT = "123456789012"
"""The account of every test (moto's)."""
PARTITION = "aws"

PLACEHOLDERS = {
    "AWS::Partition": "the partition (aws)",
    "AWS::Region": "aws.region",
    "AWS::AccountId": "the account",
    "Bucket": "aws.bucket",
    "Prefix": "aws.prefix, without slashes at either end (not empty)",
    "Queue": "aws.queue (its dead-letter queue is <aws.queue>-dead-letters)",
    "EventBus": "aws.event_bus",
    "ModelName": "registry.model_name: the model package group and the training jobs' names",
    "ExecutionRoleName": "the name of the role aws.role_arn names",
}
"""Each placeholder of the policy and the setting it stands for."""

OPERATIONS: dict[str, str | None] = {
    # S3: the API's names are not IAM's.
    "s3.PutObject": "s3:PutObject",
    "s3.GetObject": "s3:GetObject",
    "s3.HeadObject": "s3:GetObject",
    "s3.DeleteObject": "s3:DeleteObject",
    "s3.ListObjectsV2": "s3:ListBucket",
    "s3.HeadBucket": "s3:ListBucket",
    "s3.GetBucketVersioning": "s3:GetBucketVersioning",
    "s3.PutBucketVersioning": "s3:PutBucketVersioning",
    # ... and those MLflow's S3 artifact store (training.artifact_root) adds. Its clients are
    # MLflow's, so they are not recorded; test_iam_policy.py checks them under the prefix.
    "s3.DeleteObjects": "s3:DeleteObject",
    "s3.CreateMultipartUpload": "s3:PutObject",
    "s3.UploadPart": "s3:PutObject",
    "s3.CompleteMultipartUpload": "s3:PutObject",
    # CloudWatch (boto3's "cloudwatch", signing name "monitoring"): the same names.
    "cloudwatch.PutMetricData": "cloudwatch:PutMetricData",
    "cloudwatch.GetMetricData": "cloudwatch:GetMetricData",
    "cloudwatch.ListMetrics": "cloudwatch:ListMetrics",
    "cloudwatch.PutMetricAlarm": "cloudwatch:PutMetricAlarm",
    "cloudwatch.DescribeAlarms": "cloudwatch:DescribeAlarms",
    "cloudwatch.DeleteAlarms": "cloudwatch:DeleteAlarms",
    "cloudwatch.SetAlarmState": "cloudwatch:SetAlarmState",
    "cloudwatch.DescribeAlarmHistory": "cloudwatch:DescribeAlarmHistory",
    # SNS
    "sns.CreateTopic": "sns:CreateTopic",
    "sns.Subscribe": "sns:Subscribe",
    "sns.Publish": "sns:Publish",
    "sns.GetTopicAttributes": "sns:GetTopicAttributes",
    "sns.SetTopicAttributes": "sns:SetTopicAttributes",
    "sns.ListTopics": "sns:ListTopics",
    # EventBridge (boto3's "events")
    "events.PutEvents": "events:PutEvents",
    "events.PutRule": "events:PutRule",
    "events.DescribeRule": "events:DescribeRule",
    "events.DeleteRule": "events:DeleteRule",
    "events.PutTargets": "events:PutTargets",
    "events.RemoveTargets": "events:RemoveTargets",
    "events.ListRules": "events:ListRules",
    "events.ListTargetsByRule": "events:ListTargetsByRule",
    # SQS
    "sqs.GetQueueUrl": "sqs:GetQueueUrl",
    "sqs.GetQueueAttributes": "sqs:GetQueueAttributes",
    "sqs.CreateQueue": "sqs:CreateQueue",
    "sqs.ReceiveMessage": "sqs:ReceiveMessage",
    "sqs.DeleteMessage": "sqs:DeleteMessage",
    "sqs.ChangeMessageVisibility": "sqs:ChangeMessageVisibility",
    "sqs.SendMessage": "sqs:SendMessage",
    # SageMaker
    "sagemaker.ListModelPackageGroups": "sagemaker:ListModelPackageGroups",
    "sagemaker.CreateModelPackageGroup": "sagemaker:CreateModelPackageGroup",
    "sagemaker.ListModelPackages": "sagemaker:ListModelPackages",
    "sagemaker.CreateModelPackage": "sagemaker:CreateModelPackage",
    "sagemaker.UpdateModelPackage": "sagemaker:UpdateModelPackage",
    "sagemaker.DeleteModelPackage": "sagemaker:DeleteModelPackage",
    "sagemaker.CreateTrainingJob": "sagemaker:CreateTrainingJob",
    "sagemaker.DescribeTrainingJob": "sagemaker:DescribeTrainingJob",
    "sagemaker.ListModels": "sagemaker:ListModels",
    "sagemaker.CreateModel": "sagemaker:CreateModel",
    "sagemaker.DeleteModel": "sagemaker:DeleteModel",
    "sagemaker.ListEndpointConfigs": "sagemaker:ListEndpointConfigs",
    "sagemaker.CreateEndpointConfig": "sagemaker:CreateEndpointConfig",
    "sagemaker.DescribeEndpointConfig": "sagemaker:DescribeEndpointConfig",
    "sagemaker.DeleteEndpointConfig": "sagemaker:DeleteEndpointConfig",
    "sagemaker.ListEndpoints": "sagemaker:ListEndpoints",
    "sagemaker.CreateEndpoint": "sagemaker:CreateEndpoint",
    "sagemaker.UpdateEndpoint": "sagemaker:UpdateEndpoint",
    "sagemaker.DescribeEndpoint": "sagemaker:DescribeEndpoint",
    "sagemaker.DeleteEndpoint": "sagemaker:DeleteEndpoint",
    # SageMaker's runtime signs as "sagemaker": its action is SageMaker's.
    "sagemaker-runtime.InvokeEndpoint": "sagemaker:InvokeEndpoint",
    # STS: GetCallerIdentity needs no permission (an explicit deny cannot refuse it).
    "sts.GetCallerIdentity": None,
}
"""``<boto3 service>.<operation>`` -> the IAM action it needs (None: none)."""

NOT_RECORDED = {
    "iam:PassRole": "CreateModel and CreateTrainingJob pass aws.role_arn to SageMaker",
    "sagemaker:AddTags": "CreateModel, CreateEndpointConfig and CreateEndpoint carry Tags",
}
"""Actions no boto3 operation names but that an operation needs: IAM authorizes them
when the operation runs. Each is checked as a request implied by the operation's parameters."""

NO_RESOURCE_LEVEL = frozenset(
    {
        "cloudwatch:PutMetricData",
        "cloudwatch:GetMetricData",
        "cloudwatch:ListMetrics",
        "sns:ListTopics",
        "events:ListRules",
        "sagemaker:ListModelPackageGroups",
        "sagemaker:ListModelPackages",
        "sagemaker:ListModels",
        "sagemaker:ListEndpointConfigs",
        "sagemaker:ListEndpoints",
    }
)
"""Actions IAM authorizes on no resource ARN (the List operations and CloudWatch's metric
data): the only ones the policy may grant on ``"Resource": "*"``."""


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes for a call: an action on a resource, with context keys."""

    action: str
    resource: str
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()
    implied: bool = False
    """An action of :data:`NOT_RECORDED`, which the operation needs without naming it."""

    def keys(self) -> dict[str, tuple[str, ...]]:
        return {key.lower(): values for key, values in self.context}


@dataclass(frozen=True)
class Scope:
    """What the settings of the client that made a call name: the placeholders' values."""

    region: str
    bucket: str = ""
    prefix: str = ""
    queue: str = ""
    event_bus: str = "default"
    model_name: str = ""
    role_arn: str = ""

    def values(self) -> dict[str, str]:
        return {
            "AWS::Partition": PARTITION,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT,
            "Bucket": self.bucket,
            "Prefix": self.prefix.strip("/"),
            "Queue": self.queue,
            "EventBus": self.event_bus,
            "ModelName": self.model_name.lower(),  # SageMaker's ARNs are lower case
            "ExecutionRoleName": self.role_arn.rsplit("/", 1)[-1],
        }


@dataclass(frozen=True)
class Call:
    """An AWS operation driftloop made: what IAM authorizes for it, and where it was made."""

    service: str
    operation: str
    requests: tuple[Request, ...]
    scope: Scope
    test: str = ""
    refused_by_aws: str = ""
    """Why AWS refuses this call whatever the policy says ("" when it does not): moto took it,
    so a test made it, but no role could."""

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"

    def as_json(self) -> dict[str, Any]:
        return {
            "operation": self.name,
            "test": self.test,
            "scope": asdict(self.scope),
            "refused_by_aws": self.refused_by_aws,
            "requests": [
                {"action": r.action, "resource": r.resource, "context": dict(r.context)}
                for r in self.requests
            ],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Call:
        """The call :meth:`as_json` wrote."""
        service, _, operation = str(raw["operation"]).partition(".")
        found = tuple(
            Request(
                str(r["action"]),
                str(r["resource"]),
                tuple(sorted((k, tuple(v)) for k, v in r["context"].items())),
                str(r["action"]) in NOT_RECORDED,
            )
            for r in raw["requests"]
        )
        scope = Scope(**raw["scope"])
        return cls(service, operation, found, scope, str(raw["test"]), str(raw["refused_by_aws"]))


class UnknownOperation(KeyError):
    """An operation missing from :data:`OPERATIONS`: the table (and the policy) need it."""


def call(
    service: str, operation: str, params: Mapping[str, Any], scope: Scope, test: str = ""
) -> Call:
    """The :class:`Call` of boto3 operation ``operation`` of ``service`` with ``params``."""
    found = tuple(requests(service, operation, params, scope))
    return Call(service, operation, found, scope, test, _refused_by_aws(service, operation, params))


def _refused_by_aws(service: str, operation: str, params: Mapping[str, Any]) -> str:
    """Why AWS refuses a call that moto answers, whatever the caller's permissions."""
    namespace = str(params.get("Namespace", ""))
    if (service, operation) == ("cloudwatch", "PutMetricData") and namespace.startswith("AWS/"):
        return f"CloudWatch refuses PutMetricData in {namespace} (AWS/ namespaces are its own)"
    return ""


def requests(
    service: str, operation: str, params: Mapping[str, Any], scope: Scope
) -> list[Request]:
    """What IAM authorizes for the operation: its action on each resource it names, then the
    :data:`NOT_RECORDED` actions it implies. [] for an operation that needs no permission."""
    name = f"{service}.{operation}"
    if name not in OPERATIONS:
        raise UnknownOperation(name)
    action = OPERATIONS[name]
    if action is None:
        return []
    builder = _RESOURCES.get(action.split(":")[0], _any)
    found = [
        Request(action, resource, tuple(sorted(context.items())))
        for resource, context in builder(operation, dict(params), scope)
    ]
    return found + _implied(operation, dict(params), scope)


# --- resources and context keys, service by service

Resources = Iterator[tuple[str, dict[str, tuple[str, ...]]]]


def _arn(service: str, region: str, resource: str, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def _any(operation: str, params: dict[str, Any], scope: Scope) -> Resources:
    yield "*", {}


def _s3(operation: str, params: dict[str, Any], scope: Scope) -> Resources:
    bucket = f"arn:{PARTITION}:s3:::{params['Bucket']}"
    if "Key" in params:
        yield f"{bucket}/{params['Key']}", {}
    elif operation == "DeleteObjects":
        for item in params["Delete"]["Objects"]:
            yield f"{bucket}/{item['Key']}", {}
    elif operation == "ListObjectsV2":
        context: dict[str, tuple[str, ...]] = {}
        if "Prefix" in params:
            context["s3:prefix"] = (str(params["Prefix"]),)
        if "Delimiter" in params:
            context["s3:delimiter"] = (str(params["Delimiter"]),)
        yield bucket, context
    else:
        yield bucket, {}


def _cloudwatch(operation: str, params: dict[str, Any], scope: Scope) -> Resources:
    if operation == "PutMetricData":
        yield "*", {"cloudwatch:namespace": (str(params["Namespace"]),)}
    elif operation in ("GetMetricData", "ListMetrics"):
        yield "*", {}
    else:
        names = params.get("AlarmNames") or [params.get("AlarmName", "*")]
        context = {}
        if operation == "PutMetricAlarm":
            actions = [
                str(arn)
                for key in ("AlarmActions", "OKActions", "InsufficientDataActions")
                for arn in params.get(key, [])
            ]
            context["cloudwatch:AlarmActions"] = tuple(actions)
        for name in names:
            yield _arn("cloudwatch", scope.region, f"alarm:{name}"), context


def _sns(operation: str, params: dict[str, Any], scope: Scope) -> Resources:
    if operation == "ListTopics":
        yield "*", {}
    elif operation == "CreateTopic":
        yield _arn("sns", scope.region, str(params["Name"])), {}
    elif operation == "Subscribe":
        yield str(params["TopicArn"]), {"sns:Protocol": (str(params["Protocol"]),)}
    else:
        yield str(params["TopicArn"]), {}


def _events(operation: str, params: dict[str, Any], scope: Scope) -> Resources:
    if operation == "ListRules":
        yield "*", {}
    elif operation == "PutEvents":
        buses = {str(entry.get("EventBusName") or "default") for entry in params["Entries"]}
        for bus in sorted(buses):
            name = bus.rsplit("/", 1)[-1]  # a name or an ARN
            yield _arn("events", scope.region, f"event-bus/{name}"), {}
    else:
        rule = str(params.get("Name") or params["Rule"])
        bus = str(params.get("EventBusName") or "default").rsplit("/", 1)[-1]
        path = rule if bus == "default" else f"{bus}/{rule}"
        yield _arn("events", scope.region, f"rule/{path}"), {}


def _sqs(operation: str, params: dict[str, Any], scope: Scope) -> Resources:
    if "QueueUrl" in params:
        account, name = urlparse(str(params["QueueUrl"])).path.strip("/").split("/")
    else:
        account = str(params.get("QueueOwnerAWSAccountId") or ACCOUNT)
        name = str(params["QueueName"])
    yield _arn("sqs", scope.region, name, account), {}


_SAGEMAKER_NAMES = {
    "CreateModelPackageGroup": (("model-package-group", "ModelPackageGroupName"),),
    "CreateTrainingJob": (("training-job", "TrainingJobName"),),
    "DescribeTrainingJob": (("training-job", "TrainingJobName"),),
    "CreateModel": (("model", "ModelName"),),
    "DeleteModel": (("model", "ModelName"),),
    "CreateEndpointConfig": (("endpoint-config", "EndpointConfigName"),),
    "DescribeEndpointConfig": (("endpoint-config", "EndpointConfigName"),),
    "DeleteEndpointConfig": (("endpoint-config", "EndpointConfigName"),),
    "CreateEndpoint": (("endpoint", "EndpointName"), ("endpoint-config", "EndpointConfigName")),
    "UpdateEndpoint": (("endpoint", "EndpointName"), ("endpoint-config", "EndpointConfigName")),
    "DescribeEndpoint": (("endpoint", "EndpointName"),),
    "DeleteEndpoint": (("endpoint", "EndpointName"),),
    "InvokeEndpoint": (("endpoint", "EndpointName"),),
}
"""SageMaker operation -> (resource type, the parameter naming it) for each resource."""


def _sagemaker(operation: str, params: dict[str, Any], scope: Scope) -> Resources:
    if operation.startswith("List"):
        yield "*", {}
    elif operation == "CreateModelPackage":  # a new version of the group: both are authorized
        group = str(params["ModelPackageGroupName"]).lower()
        yield _arn("sagemaker", scope.region, f"model-package/{group}/*"), {}
        yield _arn("sagemaker", scope.region, f"model-package-group/{group}"), {}
    elif operation in ("UpdateModelPackage", "DeleteModelPackage"):
        yield str(params.get("ModelPackageArn") or params["ModelPackageName"]), {}
    else:
        for kind, parameter in _SAGEMAKER_NAMES[operation]:
            name = str(params[parameter]).lower()  # SageMaker's ARNs are lower case
            yield _arn("sagemaker", scope.region, f"{kind}/{name}"), {}


_RESOURCES = {
    "s3": _s3,
    "cloudwatch": _cloudwatch,
    "sns": _sns,
    "events": _events,
    "sqs": _sqs,
    "sagemaker": _sagemaker,
}


def _implied(operation: str, params: dict[str, Any], scope: Scope) -> list[Request]:
    """The :data:`NOT_RECORDED` actions an operation needs (see its table)."""
    found = []
    role = params.get("ExecutionRoleArn") or params.get("RoleArn")
    if role and operation in ("CreateModel", "CreateTrainingJob"):
        context = (("iam:PassedToService", ("sagemaker.amazonaws.com",)),)
        found.append(Request("iam:PassRole", str(role), context, implied=True))
    if params.get("Tags") and operation in _SAGEMAKER_NAMES:
        kind, parameter = _SAGEMAKER_NAMES[operation][0]
        arn = _arn("sagemaker", scope.region, f"{kind}/{str(params[parameter]).lower()}")
        context = (("sagemaker:TaggingAction", (operation,)),)
        found.append(Request("sagemaker:AddTags", arn, context, implied=True))
    return found


# --- the policy


@dataclass(frozen=True)
class Statement:
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default=())
    """(operator, key, values)."""


def load(text: str | None = None) -> dict[str, Any]:
    """The policy document (the shipped one unless ``text``)."""
    return dict(json.loads(POLICY.read_text() if text is None else text))


def placeholders(document: Mapping[str, Any]) -> set[str]:
    """The ``${...}`` names the document uses."""
    return set(re.findall(r"\$\{([^}]+)\}", json.dumps(document)))


def substitute(document: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The document with each ``${Name}`` replaced as ``Fn::Sub`` would; KeyError for a name
    ``values`` lacks."""

    def sub(value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], value)
        if isinstance(value, list):
            return [sub(item) for item in value]
        if isinstance(value, dict):
            return {key: sub(item) for key, item in value.items()}
        return value

    return dict(sub(dict(document)))


def _strings(value: str | Sequence[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def statements(document: Mapping[str, Any]) -> list[Statement]:
    """The document's statements; ValueError for anything this evaluation does not model."""
    found = []
    for raw in document["Statement"]:
        unknown = set(raw) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if raw.get("Effect") != "Allow" or unknown:
            raise ValueError(f"statement {raw.get('Sid')}: only Allow with Action and Resource")
        conditions = tuple(
            (operator, key, _strings(values))
            for operator, keys in raw.get("Condition", {}).items()
            for key, values in keys.items()
        )
        for operator, _, _ in conditions:
            _operator(operator)  # refuse what is not modelled now, not when it first matters
        found.append(
            Statement(
                str(raw.get("Sid", "")),
                _strings(raw["Action"]),
                _strings(raw["Resource"]),
                conditions,
            )
        )
    return found


def _pattern(text: str, ignore_case: bool = False) -> re.Pattern[str]:
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in text
    )
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


@cache
def _compiled(text: str, ignore_case: bool) -> re.Pattern[str]:
    return _pattern(text, ignore_case)


def matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` any run of characters (``/`` and ``:`` too), ``?`` one."""
    return _compiled(pattern, ignore_case).fullmatch(value) is not None


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringLike": lambda pattern, value: matches(pattern, value),
    "ArnLike": lambda pattern, value: matches(pattern, value),
}


def _operator(name: str) -> tuple[str, str, bool]:
    """(qualifier, base operator, if-exists) of a condition operator; ValueError if unknown."""
    qualifier, _, rest = name.rpartition(":")
    base = rest.removesuffix("IfExists")
    if qualifier not in ("", "ForAllValues", "ForAnyValue") or base not in _OPERATORS:
        raise ValueError(f"condition operator {name} is not modelled by tests/iam_policy.py")
    return qualifier, base, rest.endswith("IfExists")


def _condition(operator: str, key: str, patterns: tuple[str, ...], request: Request) -> bool:
    qualifier, base, if_exists = _operator(operator)
    values = request.keys().get(key.lower())
    test = _OPERATORS[base]

    def one(value: str) -> bool:
        return any(test(pattern, value) for pattern in patterns)

    if qualifier == "ForAllValues":  # IAM: true for a missing or empty key
        return all(one(value) for value in values or ())
    if not values:
        return if_exists and qualifier == ""
    return any(one(value) for value in values)


def allows(statement: Statement, request: Request, *, resource: str | None = None) -> bool:
    """Whether ``statement`` allows ``request`` (through ``resource`` among its resources
    when given)."""
    if not any(matches(a, request.action, ignore_case=True) for a in statement.actions):
        return False
    patterns = statement.resources if resource is None else (resource,)
    if not any(matches(pattern, request.resource) for pattern in patterns):
        return False
    return all(_condition(op, key, values, request) for op, key, values in statement.conditions)


@cache
def _instance(text: str, scope: Scope) -> tuple[Statement, ...]:
    return tuple(statements(substitute(load(text), scope.values())))


def unallowed(calls: Iterable[Call], text: str | None = None, examples: int = 3) -> list[str]:
    """One line per operation and action of ``calls`` that the policy refused at least once:
    how many distinct requests were refused, and the first ``examples`` of them (resource,
    context keys, a test that made it)."""
    text = POLICY.read_text() if text is None else text
    refused: dict[tuple[str, str], dict[Request, str]] = {}
    for made in calls:
        if made.refused_by_aws:
            continue
        policy = _instance(text, made.scope)
        for request in made.requests:
            if not any(allows(statement, request) for statement in policy):
                refused.setdefault((made.name, request.action), {}).setdefault(request, made.test)
    lines = []
    for (name, action), found in sorted(refused.items()):
        shown = [
            request.resource
            + (f" with {dict(request.context)}" if request.context else "")
            + (f" (in {test})" if test else "")
            for request, test in list(found.items())[:examples]
        ]
        more = f"; and {len(found) - examples} more" if len(found) > examples else ""
        lines.append(f"{name} -> {action} on {'; '.join(shown)}{more}")
    return lines


def unused(calls: Iterable[Call], text: str | None = None) -> list[str]:
    """One line per (statement, action, resource) of the policy that allowed none of the
    requests of ``calls``: more than was needed."""
    text = POLICY.read_text() if text is None else text
    made = [one for one in calls if not one.refused_by_aws]
    used: set[tuple[str, str, int]] = set()
    for one in made:
        policy = _instance(text, one.scope)
        for request in one.requests:
            for statement in policy:
                for action in statement.actions:
                    if not matches(action, request.action, ignore_case=True):
                        continue
                    for index, resource in enumerate(statement.resources):
                        if allows(statement, request, resource=resource):
                            used.add((statement.sid, action, index))
    shown = statements(load(text))  # placeholders unsubstituted, as the file says them
    return [
        f"{statement.sid}: {action} on {resource}"
        for statement in shown
        for action in statement.actions
        for index, resource in enumerate(statement.resources)
        if (statement.sid, action, index) not in used
    ]
