"""The stack as a Terraform module for the AWS provider: ``main.tf`` (the resources),
``variables.tf`` (the region and the stack's parameters) and ``outputs.tf``. Each described
resource is one resource of the provider named after its key in snake_case, plus the provider's
separate resources for what CloudFormation keeps inside it (a bucket's versioning, a rule's
targets, a topic's subscriptions, a role's inline policy)."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

import orjson

from driftloop.infra import resources as r
from driftloop.infra.cloudformation import ASSUME_ROLE, number
from driftloop.infra.hcl import Attribute, Block, Call, Raw, Template, file_text, string
from driftloop.infra.naming import snake
from driftloop.infra.values import Attr, Join, Param, Pseudo

HEADER = (
    "Terraform module of driftloop's AWS resources, written by `driftloop infra render`\n"
    "from driftloop.toml: change the config and render again rather than editing this file."
)
PROVIDER = {"source": "hashicorp/aws", "version": "~> 5.40"}
TYPES: dict[type, str] = {
    r.Bucket: "aws_s3_bucket",
    r.Role: "aws_iam_role",
    r.Topic: "aws_sns_topic",
    r.TopicPolicy: "aws_sns_topic_policy",
    r.Queue: "aws_sqs_queue",
    r.QueuePolicy: "aws_sqs_queue_policy",
    r.EventBus: "aws_cloudwatch_event_bus",
    r.EventRule: "aws_cloudwatch_event_rule",
    r.Alarm: "aws_cloudwatch_metric_alarm",
    r.Dashboard: "aws_cloudwatch_dashboard",
}
"""The provider's resource type of each described resource (its other ones are extras)."""
_ATTRIBUTES: dict[tuple[type, str], str] = {(r.Bucket, "name"): "bucket"}
_DATA = {
    "partition": ("aws_partition", "partition"),
    "region": ("aws_region", "name"),
    "account": ("aws_caller_identity", "account_id"),
}


def render(stack: r.Stack, region: str | None) -> dict[str, str]:
    """``main.tf``, ``variables.tf`` and ``outputs.tf`` of ``stack``; ``region`` is the
    default of the ``region`` variable (none: Terraform asks)."""
    kinds = {resource.key: type(resource) for resource in stack.resources}
    out = _Converter(kinds)
    resources = [block for resource in stack.resources for block in _blocks(resource, out)]
    settings = Block(
        "terraform",
        (),
        [
            Attribute("required_version", ">= 1.5"),
            None,
            Block("required_providers", (), [Attribute("aws", PROVIDER)]),
        ],
    )
    provider = Block("provider", ("aws",), [Attribute("region", Raw("var.region"))])
    variables = [
        Block(
            "variable",
            ("region",),
            [
                Attribute("description", "AWS region of the resources (aws.region)"),
                Attribute("type", Raw("string")),
                *([Attribute("default", region)] if region else []),
            ],
        )
    ]
    variables += [_variable(parameter) for parameter in stack.parameters]
    outputs = [
        Block(
            "output",
            (snake(output.key),),
            [Attribute("description", output.description), Attribute("value", out(output.value))],
        )
        for output in stack.outputs
    ]
    data = [Block("data", (_DATA[name][0], "current")) for name in _DATA if name in out.used]
    return {
        "main.tf": file_text([settings, provider, *data, *resources], HEADER),
        "variables.tf": file_text(variables, HEADER),
        "outputs.tf": file_text(outputs, HEADER),
    }


def _variable(parameter: r.Parameter) -> Block:
    name = snake(parameter.key)
    body: list[Attribute | Block | None] = [
        Attribute("description", parameter.description),
        Attribute("type", Raw("string")),
        Attribute("default", parameter.default),
    ]
    if parameter.pattern:
        body += [
            None,
            Block(
                "validation",
                (),
                [
                    Attribute(
                        "condition",
                        Raw(f"can(regex({string(f'^{parameter.pattern}$')}, var.{name}))"),
                    ),
                    Attribute("error_message", f"{name} must match {parameter.pattern}."),
                ],
            ),
        ]
    return Block("variable", (name,), body)


class _Converter:
    """Turns the stack's values into HCL: references become Terraform references."""

    def __init__(self, kinds: dict[str, type]) -> None:
        self.kinds = kinds
        self.used: set[str] = set()
        """The data sources (partition, region, account) the references read."""

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Attr | Pseudo | Param):
            return self.reference(value)
        if isinstance(value, Join):
            return Template(
                tuple(
                    part if isinstance(part, str) else self.reference(part) for part in value.parts
                )
            )
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self(item) for item in value]
        return value

    def reference(self, value: Attr | Pseudo | Param) -> Raw:
        if isinstance(value, Pseudo):
            self.used.add(value.name)
            source, attribute = _DATA[value.name]
            return Raw(f"data.{source}.current.{attribute}")
        if isinstance(value, Param):
            return Raw(f"var.{snake(value.key)}")
        kind = self.kinds[value.key]
        attribute = _ATTRIBUTES.get((kind, value.attribute), value.attribute)
        return Raw(f"{TYPES[kind]}.{snake(value.key)}.{attribute}")

    def json(self, value: Any) -> Call:
        return Call("jsonencode", self(value))


def _resource(kind: str, name: str, body: list[Attribute | Block | None]) -> Block:
    return Block("resource", (kind, name), body)


@singledispatch
def _blocks(resource: Any, out: _Converter) -> list[Block]:
    raise TypeError(f"no Terraform for {type(resource).__name__}")


@_blocks.register
def _(resource: r.Bucket, out: _Converter) -> list[Block]:
    name = snake(resource.key)
    bucket = Attribute("bucket", Raw(f"aws_s3_bucket.{name}.id"))
    return [
        _resource(
            "aws_s3_bucket",
            name,
            [
                Attribute("bucket", resource.name),
                None,
                Block("lifecycle", (), [Attribute("prevent_destroy", True)]),
            ],
        ),
        _resource(
            "aws_s3_bucket_versioning",
            name,
            [
                bucket,
                None,
                Block("versioning_configuration", (), [Attribute("status", "Enabled")]),
            ],
        ),
        _resource(
            "aws_s3_bucket_server_side_encryption_configuration",
            name,
            [
                bucket,
                None,
                Block(
                    "rule",
                    (),
                    [
                        Block(
                            "apply_server_side_encryption_by_default",
                            (),
                            [Attribute("sse_algorithm", "AES256")],
                        )
                    ],
                ),
            ],
        ),
        _resource(
            "aws_s3_bucket_public_access_block",
            name,
            [
                bucket,
                Attribute("block_public_acls", True),
                Attribute("block_public_policy", True),
                Attribute("ignore_public_acls", True),
                Attribute("restrict_public_buckets", True),
            ],
        ),
    ]


@_blocks.register
def _(resource: r.Role, out: _Converter) -> list[Block]:
    name = snake(resource.key)
    blocks = [
        _resource(
            "aws_iam_role",
            name,
            [
                Attribute("name", resource.name),
                Attribute("path", resource.path),
                Attribute("description", resource.description),
                Attribute("assume_role_policy", out.json(ASSUME_ROLE)),
            ],
        )
    ]
    if resource.policy is not None:
        blocks.append(
            _resource(
                "aws_iam_role_policy",
                name,
                [
                    Attribute("name", resource.policy_name),
                    Attribute("role", Raw(f"aws_iam_role.{name}.id")),
                    Attribute("policy", out.json(resource.policy)),
                ],
            )
        )
    return blocks


@_blocks.register
def _(resource: r.Topic, out: _Converter) -> list[Block]:
    name = snake(resource.key)
    blocks = [_resource("aws_sns_topic", name, [Attribute("name", resource.name)])]
    for number_, subscription in enumerate(resource.subscriptions, start=1):
        blocks.append(
            _resource(
                "aws_sns_topic_subscription",
                f"{name}_{number_}",
                [
                    Attribute("topic_arn", out(Attr(resource.key, "arn"))),
                    Attribute("protocol", subscription.protocol),
                    Attribute("endpoint", out(subscription.endpoint)),
                ],
            )
        )
    return blocks


@_blocks.register
def _(resource: r.TopicPolicy, out: _Converter) -> list[Block]:
    return [
        _resource(
            "aws_sns_topic_policy",
            snake(resource.key),
            [
                Attribute("arn", out(Attr(resource.topic, "arn"))),
                Attribute("policy", out.json(resource.document)),
            ],
        )
    ]


@_blocks.register
def _(resource: r.Queue, out: _Converter) -> list[Block]:
    body: list[Attribute | Block | None] = [Attribute("name", resource.name)]
    if resource.visibility_timeout is not None:
        body.append(Attribute("visibility_timeout_seconds", resource.visibility_timeout))
    if resource.retention is not None:
        body.append(Attribute("message_retention_seconds", resource.retention))
    if resource.redrive is not None:
        body.append(Attribute("redrive_policy", out.json(resource.redrive)))
    return [_resource("aws_sqs_queue", snake(resource.key), body)]


@_blocks.register
def _(resource: r.QueuePolicy, out: _Converter) -> list[Block]:
    return [
        _resource(
            "aws_sqs_queue_policy",
            snake(resource.key),
            [
                Attribute("queue_url", out(Attr(resource.queue, "url"))),
                Attribute("policy", out.json(resource.document)),
            ],
        )
    ]


@_blocks.register
def _(resource: r.EventBus, out: _Converter) -> list[Block]:
    return [
        _resource(
            "aws_cloudwatch_event_bus", snake(resource.key), [Attribute("name", resource.name)]
        )
    ]


@_blocks.register
def _(resource: r.EventRule, out: _Converter) -> list[Block]:
    name = snake(resource.key)
    bus = out(resource.bus)
    blocks = [
        _resource(
            "aws_cloudwatch_event_rule",
            name,
            [
                Attribute("name", resource.name),
                Attribute("event_bus_name", bus),
                Attribute("description", resource.description),
                Attribute("event_pattern", orjson.dumps(resource.pattern).decode()),
                Attribute("state", "ENABLED" if resource.enabled else "DISABLED"),
            ],
        )
    ]
    for index, target in enumerate(resource.targets):
        body: list[Attribute | Block | None] = [
            Attribute("rule", Raw(f"aws_cloudwatch_event_rule.{name}.name")),
            Attribute("event_bus_name", bus),
            Attribute("target_id", target.id),
            Attribute("arn", out(target.arn)),
        ]
        if target.input_transformer is not None:
            body += [
                None,
                Block(
                    "input_transformer",
                    (),
                    [
                        Attribute("input_paths", target.input_transformer["InputPathsMap"]),
                        Attribute("input_template", target.input_transformer["InputTemplate"]),
                    ],
                ),
            ]
        blocks.append(_resource("aws_cloudwatch_event_target", f"{name}_{index}", body))
    return blocks


@_blocks.register
def _(resource: r.Alarm, out: _Converter) -> list[Block]:
    alarm = resource.definition
    body: list[Attribute | Block | None] = [Attribute("alarm_name", alarm.alarm_name)]
    if alarm.alarm_description:
        body.append(Attribute("alarm_description", alarm.alarm_description))
    body += [
        Attribute("namespace", alarm.namespace),
        Attribute("metric_name", alarm.metric_name),
    ]
    if alarm.dimensions:
        body.append(Attribute("dimensions", dict(sorted(alarm.dimensions.items()))))
    if alarm.statistic is not None:
        body.append(Attribute("statistic", alarm.statistic))
    if alarm.extended_statistic is not None:
        body.append(Attribute("extended_statistic", alarm.extended_statistic))
    body += [
        Attribute("period", alarm.period),
        Attribute("evaluation_periods", alarm.evaluation_periods),
        Attribute("datapoints_to_alarm", alarm.required),
        Attribute("threshold", number(alarm.threshold)),
        Attribute("comparison_operator", alarm.comparison_operator),
        Attribute("treat_missing_data", alarm.treat_missing_data),
    ]
    if alarm.evaluate_low_sample_count_percentile is not None:
        body.append(
            Attribute(
                "evaluate_low_sample_count_percentiles", alarm.evaluate_low_sample_count_percentile
            )
        )
    if alarm.unit is not None:
        body.append(Attribute("unit", alarm.unit))
    body.append(Attribute("actions_enabled", alarm.actions_enabled))
    for kind, field in (
        ("alarm", "alarm_actions"),
        ("ok", "ok_actions"),
        ("insufficient_data", "insufficient_data_actions"),
    ):
        if resource.actions[kind]:
            body.append(Attribute(field, out(list(resource.actions[kind]))))
    return [_resource("aws_cloudwatch_metric_alarm", snake(resource.key), body)]


@_blocks.register
def _(resource: r.Dashboard, out: _Converter) -> list[Block]:
    return [
        _resource(
            "aws_cloudwatch_dashboard",
            snake(resource.key),
            [
                Attribute("dashboard_name", resource.name),
                Attribute("dashboard_body", out.json(resource.body)),
            ],
        )
    ]
