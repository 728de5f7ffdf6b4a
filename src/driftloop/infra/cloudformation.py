"""The stack as a CloudFormation template (a dict, written as YAML): one resource per
described resource, references as ``Ref``, ``Fn::GetAtt`` and ``Fn::Sub``."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from driftloop.alarms.definition import AlarmDefinition
from driftloop.infra import resources as r
from driftloop.infra.json_text import pretty
from driftloop.infra.values import Attr, Join, Param, Pseudo, references
from driftloop.infra.yaml_text import dump

HEADER = (
    "CloudFormation template of driftloop's AWS resources, written by `driftloop infra render`\n"
    "from driftloop.toml: change the config and render again rather than editing this file."
)
TYPES: dict[type, str] = {
    r.Bucket: "AWS::S3::Bucket",
    r.Role: "AWS::IAM::Role",
    r.Topic: "AWS::SNS::Topic",
    r.TopicPolicy: "AWS::SNS::TopicPolicy",
    r.Queue: "AWS::SQS::Queue",
    r.QueuePolicy: "AWS::SQS::QueuePolicy",
    r.EventBus: "AWS::Events::EventBus",
    r.EventRule: "AWS::Events::Rule",
    r.Alarm: "AWS::CloudWatch::Alarm",
    r.Dashboard: "AWS::CloudWatch::Dashboard",
}
_PSEUDO = {"partition": "AWS::Partition", "region": "AWS::Region", "account": "AWS::AccountId"}
_REF = {
    # (type, attribute) answered by Ref; every other attribute is Fn::GetAtt
    (r.Bucket, "name"),
    (r.Role, "name"),
    (r.Topic, "arn"),
    (r.Queue, "url"),
    (r.EventBus, "name"),
}
_GET_ATT = {"arn": "Arn", "name": "Name", "url": "QueueUrl"}
_GET_ATT_BY_TYPE: dict[tuple[type, str], str] = {
    (r.Topic, "name"): "TopicName",
    (r.Queue, "name"): "QueueName",
}


def template(stack: r.Stack) -> dict[str, Any]:
    """The CloudFormation template of ``stack``."""
    kinds = {resource.key: type(resource) for resource in stack.resources}
    out = _Resolver(kinds)
    body: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": stack.description,
    }
    if stack.parameters:
        body["Parameters"] = {
            parameter.key: {
                "Type": "String",
                "Description": parameter.description,
                "Default": parameter.default,
                **({"AllowedPattern": parameter.pattern} if parameter.pattern else {}),
            }
            for parameter in stack.parameters
        }
    body["Resources"] = {
        resource.key: {"Type": TYPES[type(resource)], **out(_resource(resource))}
        for resource in stack.resources
    }
    if stack.outputs:
        body["Outputs"] = {
            output.key: {"Description": output.description, "Value": out(output.value)}
            for output in stack.outputs
        }
    return body


def render(stack: r.Stack) -> str:
    """The template of ``stack`` as YAML text."""
    return dump(template(stack), HEADER)


class _Resolver:
    """Turns the stack's values into CloudFormation's: references become intrinsic functions."""

    def __init__(self, kinds: dict[str, type]) -> None:
        self.kinds = kinds

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Attr | Pseudo | Param):
            return self.reference(value)
        if isinstance(value, Join):
            return self.sub(value.parts)
        if isinstance(value, JsonText):
            return self.json_text(value.value)
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self(item) for item in value]
        return value

    def reference(self, value: Attr | Pseudo | Param) -> dict[str, Any]:
        if isinstance(value, Pseudo):
            return {"Ref": _PSEUDO[value.name]}
        if isinstance(value, Param):
            return {"Ref": value.key}
        kind = self.kinds[value.key]
        if (kind, value.attribute) in _REF:
            return {"Ref": value.key}
        attribute = _GET_ATT_BY_TYPE.get((kind, value.attribute), _GET_ATT[value.attribute])
        return {"Fn::GetAtt": [value.key, attribute]}

    def placeholder(self, value: Attr | Pseudo | Param) -> str:
        """``value`` inside an ``Fn::Sub`` string."""
        resolved = self.reference(value)
        if "Ref" in resolved:
            return f"${{{resolved['Ref']}}}"
        key, attribute = resolved["Fn::GetAtt"]
        return f"${{{key}.{attribute}}}"

    def sub_text(self, parts: tuple[Any, ...]) -> str:
        """``parts`` as the text of an ``Fn::Sub``: literal ``${`` escaped as ``${!``."""
        return "".join(
            part.replace("${", "${!") if isinstance(part, str) else self.placeholder(part)
            for part in parts
        )

    def sub(self, parts: tuple[Any, ...]) -> Any:
        if all(isinstance(part, str) for part in parts):
            return "".join(parts)
        return {"Fn::Sub": self.sub_text(parts)}

    def json_text(self, value: Any) -> Any:
        """``value`` as indented JSON text; an ``Fn::Sub`` when it holds references."""
        if not any(True for _ in references(value)):
            return pretty(value)

        def placeholders(item: Any) -> Any:
            if isinstance(item, Attr | Pseudo | Param):
                return self.placeholder(item)
            if isinstance(item, Join):
                return self.sub_text(item.parts)
            if isinstance(item, str):
                return item.replace("${", "${!")
            if isinstance(item, dict):
                return {key: placeholders(inner) for key, inner in item.items()}
            if isinstance(item, list | tuple):
                return [placeholders(inner) for inner in item]
            return item

        return {"Fn::Sub": pretty(placeholders(value))}


class JsonText:
    """A value written as JSON text (a dashboard body)."""

    def __init__(self, value: Any) -> None:
        self.value = value


@singledispatch
def _resource(resource: Any) -> dict[str, Any]:
    raise TypeError(f"no CloudFormation for {type(resource).__name__}")


@_resource.register
def _(resource: r.Bucket) -> dict[str, Any]:
    return {
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": resource.name,
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    }


@_resource.register
def _(resource: r.Role) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "RoleName": resource.name,
        "Path": resource.path,
        "Description": resource.description,
        "AssumeRolePolicyDocument": ASSUME_ROLE,
    }
    if resource.policy is not None:
        properties["Policies"] = [
            {"PolicyName": resource.policy_name, "PolicyDocument": resource.policy}
        ]
    return {"Properties": properties}


ASSUME_ROLE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
"""SageMaker may take the role (training jobs, models, endpoints, processing jobs)."""


@_resource.register
def _(resource: r.Topic) -> dict[str, Any]:
    properties: dict[str, Any] = {"TopicName": resource.name}
    if resource.subscriptions:
        properties["Subscription"] = [
            {"Protocol": subscription.protocol, "Endpoint": subscription.endpoint}
            for subscription in resource.subscriptions
        ]
    return {"Properties": properties}


@_resource.register
def _(resource: r.TopicPolicy) -> dict[str, Any]:
    return {
        "Properties": {
            "Topics": [Attr(resource.topic, "arn")],
            "PolicyDocument": resource.document,
        }
    }


@_resource.register
def _(resource: r.Queue) -> dict[str, Any]:
    properties: dict[str, Any] = {"QueueName": resource.name}
    if resource.visibility_timeout is not None:
        properties["VisibilityTimeout"] = resource.visibility_timeout
    if resource.retention is not None:
        properties["MessageRetentionPeriod"] = resource.retention
    if resource.redrive is not None:
        properties["RedrivePolicy"] = resource.redrive
    return {"Properties": properties}


@_resource.register
def _(resource: r.QueuePolicy) -> dict[str, Any]:
    return {
        "Properties": {
            "Queues": [Attr(resource.queue, "url")],
            "PolicyDocument": resource.document,
        }
    }


@_resource.register
def _(resource: r.EventBus) -> dict[str, Any]:
    return {"Properties": {"Name": resource.name}}


@_resource.register
def _(resource: r.EventRule) -> dict[str, Any]:
    targets = []
    for target in resource.targets:
        item: dict[str, Any] = {"Id": target.id, "Arn": target.arn}
        if target.input_transformer is not None:
            item["InputTransformer"] = target.input_transformer
        targets.append(item)
    properties: dict[str, Any] = {
        "Name": resource.name,
        "EventBusName": resource.bus,
        "Description": resource.description,
        "EventPattern": resource.pattern,
        "State": "ENABLED" if resource.enabled else "DISABLED",
    }
    if targets:
        properties["Targets"] = targets
    return {"Properties": properties}


@_resource.register
def _(resource: r.Alarm) -> dict[str, Any]:
    return {"Properties": alarm_properties(resource.definition, resource.actions)}


def alarm_properties(alarm: AlarmDefinition, actions: dict[str, tuple[Any, ...]]) -> dict[str, Any]:
    """PutMetricAlarm's fields of ``alarm`` (CloudFormation's properties have the same
    names), its actions replaced by ``actions``."""
    fields = alarm.model_dump(by_alias=True, exclude_none=True)
    properties: dict[str, Any] = {"AlarmName": alarm.alarm_name}
    if alarm.alarm_description:
        properties["AlarmDescription"] = alarm.alarm_description
    properties["ActionsEnabled"] = alarm.actions_enabled
    for kind, field in (
        ("alarm", "AlarmActions"),
        ("ok", "OKActions"),
        ("insufficient_data", "InsufficientDataActions"),
    ):
        if actions[kind]:
            properties[field] = list(actions[kind])
    properties["Namespace"] = alarm.namespace
    properties["MetricName"] = alarm.metric_name
    if alarm.dimensions:
        properties["Dimensions"] = [
            {"Name": name, "Value": value} for name, value in sorted(alarm.dimensions.items())
        ]
    for field in (
        "Statistic",
        "ExtendedStatistic",
        "Period",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "Threshold",
        "ComparisonOperator",
        "TreatMissingData",
        "EvaluateLowSampleCountPercentile",
        "Unit",
    ):
        if field in fields:
            properties[field] = fields[field]
    properties["Threshold"] = number(alarm.threshold)
    return properties


def number(value: float) -> int | float:
    """A whole number as an int (``1000``, not ``1000.0``)."""
    return int(value) if value.is_integer() else value


@_resource.register
def _(resource: r.Dashboard) -> dict[str, Any]:
    return {
        "Properties": {
            "DashboardName": resource.name,
            "DashboardBody": JsonText(resource.body),
        }
    }
