"""The neutral description of driftloop's AWS resources: what each one is, named and set as the
settings say, before any template language. The CloudFormation and Terraform renderers both
write exactly this list, so the two cannot disagree on a name or a threshold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from driftloop.alarms.definition import AlarmDefinition
from driftloop.infra.values import Expression

Value = Any
"""A JSON-like value (str, int, float, bool, None, list, dict) that may hold expressions."""


@dataclass(frozen=True)
class Bucket:
    """The versioned, encrypted, private S3 bucket of ``aws.bucket``; kept when the stack goes."""

    key: str
    name: str


@dataclass(frozen=True)
class Role:
    """The SageMaker execution role, with the policy document when there is one."""

    key: str
    name: str
    path: str
    description: str
    policy: dict[str, Any] | None
    policy_name: str = "driftloop"


@dataclass(frozen=True)
class Subscription:
    protocol: str
    """SNS's protocol: email, http, https or sqs."""
    endpoint: Value


@dataclass(frozen=True)
class Topic:
    key: str
    name: str
    subscriptions: tuple[Subscription, ...]


@dataclass(frozen=True)
class TopicPolicy:
    key: str
    topic: str
    """Key of the topic."""
    document: dict[str, Value]


@dataclass(frozen=True)
class Queue:
    key: str
    name: str
    visibility_timeout: int | None = None
    retention: int | None = None
    redrive: dict[str, Value] | None = None


@dataclass(frozen=True)
class QueuePolicy:
    key: str
    queue: str
    """Key of the queue."""
    document: dict[str, Value]


@dataclass(frozen=True)
class EventBus:
    key: str
    name: str


@dataclass(frozen=True)
class RuleTarget:
    id: str
    arn: Value
    input_transformer: dict[str, Any] | None = None
    """``{"InputPathsMap", "InputTemplate"}`` when the event is wrapped."""


@dataclass(frozen=True)
class EventRule:
    key: str
    name: str
    bus: Value
    """The bus's name, or a reference to the bus the stack makes."""
    description: str
    pattern: dict[str, Any]
    enabled: bool
    targets: tuple[RuleTarget, ...]


@dataclass(frozen=True)
class Alarm:
    key: str
    definition: AlarmDefinition
    actions: dict[str, tuple[Value, ...]]
    """``alarm``, ``ok`` and ``insufficient_data`` actions as topic ARNs."""


@dataclass(frozen=True)
class Dashboard:
    key: str
    name: str
    body: dict[str, Value]


Resource = (
    Bucket
    | Role
    | Topic
    | TopicPolicy
    | Queue
    | QueuePolicy
    | EventBus
    | EventRule
    | Alarm
    | Dashboard
)


@dataclass(frozen=True)
class Parameter:
    """A value chosen when the stack is deployed (a CloudFormation parameter, a Terraform
    variable), with the settings' value as its default."""

    key: str
    description: str
    default: str
    pattern: str | None = None


@dataclass(frozen=True)
class Output:
    key: str
    description: str
    value: Expression | str


@dataclass
class Stack:
    """Everything ``driftloop infra render`` declares, in order."""

    description: str
    parameters: list[Parameter] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the render could not do as asked (said to the user, not written)."""
