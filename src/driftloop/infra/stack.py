"""The resources of driftloop's aws backend, described once from the settings: the bucket,
the SageMaker execution role, the notification topics, the retrain queue and its dead-letter
queue, the rules, the alarms and a dashboard per endpoint, each as the aws backend itself would
make or read it (:mod:`driftloop.events.eventbridge`, :mod:`driftloop.events.delivery_queue`),
so the backend finds them as its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from driftloop.alarms.definition import AlarmDefinition, parse_alarm
from driftloop.config import Settings, Topic
from driftloop.errors import ConfigError
from driftloop.events.delivery_queue import (
    HANDLER_TIME_S,
    RETENTION_S,
    dead_letter_queue,
    eventbridge_may_send,
    redrive_policy,
)
from driftloop.events.eventbridge import (
    command_refused,
    event_pattern,
    retrain_input,
    rule_description,
    target_id,
)
from driftloop.events.rules import NotifyTarget, RetrainTarget, Rule, parse_rule
from driftloop.infra import resources as r
from driftloop.infra.dashboard import dashboard_body
from driftloop.infra.naming import Keys
from driftloop.infra.policy import RolePolicy, filled_in, placeholder_values
from driftloop.infra.values import ACCOUNT, Attr, Join, Param, arn

FIRST_PUT = datetime(1970, 1, 1, tzinfo=UTC)
"""Rule number n of the config is declared as first put n seconds after this, so driftloop
lists the declared rules in the config's order, before the rules it puts itself."""
EMAIL_PATTERN = r"[^@\s]+@[^@\s]+"
TOPIC_EVENTS_MAY_PUBLISH = "driftloop-eventbridge-rules"
"""Sid of the topic policy statement that lets EventBridge rules publish (the aws notifier
adds the same statement when it puts a rule with a notify target)."""
SNS_OWNER_ACTIONS = [
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
]
"""The actions of SNS's default topic policy, which a declared topic policy replaces."""


def describe(settings: Settings, policy: RolePolicy) -> r.Stack:
    """Every resource the settings call for; :class:`ConfigError` in one sentence when the
    settings cannot make a stack (no bucket, no role, a target or protocol AWS cannot serve)."""
    return _Describer(settings, policy).stack


class _Describer:
    def __init__(self, settings: Settings, policy: RolePolicy) -> None:
        aws = settings.aws
        missing = [
            key
            for key, value in (("aws.bucket", aws.bucket), ("aws.role_arn", aws.role_arn))
            if not value
        ]
        if missing or aws.bucket is None or aws.role_arn is None:
            raise ConfigError(
                f"infra render needs {' and '.join(missing)} in the config: the template names "
                "the S3 bucket and the SageMaker execution role after them"
            )
        self.settings = settings
        self.keys = Keys()
        prefix = aws.prefix.strip("/")
        self.stack = r.Stack(
            f"driftloop's AWS resources: bucket {aws.bucket}"
            f"{f' (prefix {prefix}/)' if prefix else ''}, SageMaker role, topics, retrain "
            "queue, rules, alarms and dashboards. Rendered by `driftloop infra render` from "
            "driftloop.toml: change the config and render again."
        )
        self.topics: dict[str, str] = {}
        """Key of each declared topic, by name."""
        self.published_by_rules: list[str] = []

        bucket = self._bucket(aws.bucket)
        role = self._role(aws.role_arn, policy)
        for topic in settings.notifications.topics:
            self._topic(topic)
        queue, dead_letters = self._queues(aws.queue)
        bus = self._bus(aws.event_bus)
        for number, rule in enumerate(settings.rules):
            self._rule(number, parse_rule(rule), bus, queue)
        for name in self.published_by_rules:
            self._topic_policy(name)
        alarms = [parse_alarm(alarm) for alarm in settings.alarms]
        for alarm in alarms:
            self._alarm(alarm)
        self._dashboards(alarms)
        self._deploy_names(alarms)
        self._outputs(bucket, prefix, role, queue, dead_letters)

    def _bucket(self, name: str) -> str:
        key = self.keys("Bucket")
        self.stack.resources.append(r.Bucket(key, name))
        return key

    def _role(self, role_arn: str, policy: RolePolicy) -> str:
        key = self.keys("SageMakerExecutionRole")
        path, _, name = role_arn.split(":role", 1)[1].rpartition("/")
        what = "driftloop's SageMaker execution role (training jobs, models, endpoints)"
        if policy.document is None:
            description = f"{what}; attach the policy in {policy.reference}"
            self.stack.notes.append(
                f"{policy.reference} does not exist: the role is declared without its "
                "policy; render again once the file is there"
            )
        else:
            description = f"{what}; its policy is {policy.reference}"
        document = filled_in(policy, placeholder_values(self.settings))
        self.stack.resources.append(r.Role(key, name, f"{path}/", description, document))
        return key

    def _topic(self, topic: Topic) -> None:
        key = self.keys(topic.name, "Topic")
        subscriptions = []
        for subscription in topic.subscriptions:
            protocol = _sns_protocol(topic, subscription.protocol, subscription.endpoint)
            endpoint: Any = subscription.endpoint
            if protocol == "email":
                parameter = self.keys(f"{topic.name} email")
                self.stack.parameters.append(
                    r.Parameter(
                        parameter,
                        f"Email address subscribed to topic {topic.name} (it confirms once)",
                        subscription.endpoint,
                        EMAIL_PATTERN,
                    )
                )
                endpoint = Param(parameter)
            subscriptions.append(r.Subscription(protocol, endpoint))
        self.stack.resources.append(r.Topic(key, topic.name, tuple(subscriptions)))
        self.topics[topic.name] = key

    def _topic_arn(self, name: str, user: str) -> Any:
        """The ARN of topic ``name`` (a name or an ARN) that ``user`` acts on; a topic the
        config does not declare is one managed elsewhere, referred to by name."""
        if name in self.topics:
            return Attr(self.topics[name], "arn")
        if name.startswith("arn:"):
            return name
        self.stack.notes.append(
            f"{user} acts on topic {name!r}, which [notifications] does not declare: the "
            "template refers to a topic of that name made elsewhere"
        )
        return arn("sns", name)

    def _topic_policy(self, name: str) -> None:
        key = self.topics[name]
        topic = Attr(key, "arn")
        document = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": SNS_OWNER_ACTIONS,
                    "Resource": topic,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}},
                },
                {
                    "Sid": TOPIC_EVENTS_MAY_PUBLISH,
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic,
                },
            ],
        }
        self.stack.resources.append(r.TopicPolicy(self.keys(f"{key}Policy"), key, document))

    def _queues(self, name: str) -> tuple[str, str]:
        dead_key = self.keys("RetrainDeadLetterQueue")
        key = self.keys("RetrainQueue")
        self.stack.resources += [
            r.Queue(dead_key, dead_letter_queue(name), retention=RETENTION_S),
            r.Queue(
                key,
                name,
                visibility_timeout=HANDLER_TIME_S,
                redrive=redrive_policy(Attr(dead_key, "arn")),
            ),
            r.QueuePolicy(
                self.keys("RetrainQueuePolicy"),
                key,
                eventbridge_may_send(Attr(key, "arn"), arn("events", "rule/*")),
            ),
        ]
        return key, dead_key

    def _bus(self, name: str) -> Any:
        if name == "default" or name.startswith("arn:"):
            return name
        key = self.keys("EventBus")
        self.stack.resources.append(r.EventBus(key, name))
        return Attr(key, "name")

    def _rule(self, number: int, rule: Rule, bus: Any, queue: str) -> None:
        targets = []
        for index, target in enumerate(rule.targets):
            id_ = target_id(index, target.type)
            if isinstance(target, NotifyTarget):
                topic = self._topic_arn(target.topic, f"rule {rule.name!r}")
                targets.append(r.RuleTarget(id_, topic))
                if target.topic in self.topics and target.topic not in self.published_by_rules:
                    self.published_by_rules.append(target.topic)
            elif isinstance(target, RetrainTarget):
                transformer = retrain_input(rule, index, target)
                targets.append(r.RuleTarget(id_, Attr(queue, "arn"), transformer))
            else:
                raise ConfigError(command_refused(rule.name, target.type))
        self.stack.resources.append(
            r.EventRule(
                self.keys(rule.name, "Rule"),
                rule.name,
                bus,
                rule_description(FIRST_PUT + timedelta(seconds=number)),
                event_pattern(rule),
                rule.enabled,
                tuple(targets),
            )
        )

    def _alarm(self, alarm: AlarmDefinition) -> None:
        user = f"alarm {alarm.alarm_name!r}"
        actions = {
            kind: tuple(self._topic_arn(action, user) for action in listed)
            for kind, listed in (
                ("alarm", alarm.alarm_actions),
                ("ok", alarm.ok_actions),
                ("insufficient_data", alarm.insufficient_data_actions),
            )
        }
        self.stack.resources.append(r.Alarm(self.keys(alarm.alarm_name, "Alarm"), alarm, actions))

    def _dashboards(self, alarms: list[AlarmDefinition]) -> None:
        endpoints = _endpoints(self.settings, alarms)
        if not endpoints:
            self.stack.notes.append(
                "no endpoint is named (serving.endpoint, [[monitoring.schedules]] or an "
                "alarm's EndpointName dimension): no dashboard is declared"
            )
        for endpoint in endpoints:
            watching = [
                alarm.alarm_name
                for alarm in alarms
                if endpoint
                in (alarm.dimensions.get("EndpointName"), alarm.dimensions.get("Endpoint"))
            ]
            self.stack.resources.append(
                r.Dashboard(
                    self.keys(endpoint, "Dashboard"),
                    f"driftloop-{endpoint}",
                    dashboard_body(endpoint, watching),
                )
            )

    def _deploy_names(self, alarms: list[AlarmDefinition]) -> None:
        """Say when ``[deploy]`` names an alarm or a topic the stack does not declare."""
        declared = {alarm.alarm_name for alarm in alarms}
        deploy = self.settings.deploy
        for name in deploy.alarms:
            if name not in declared:
                self.stack.notes.append(
                    f"deploy.alarms names {name!r}, which [[alarms]] does not declare"
                )
        if deploy.topic is not None and deploy.topic not in self.topics:
            self.stack.notes.append(
                f"deploy.topic names {deploy.topic!r}, which [notifications] does not declare"
            )

    def _outputs(self, bucket: str, prefix: str, role: str, queue: str, dead_letters: str) -> None:
        folder = f"/{prefix}/" if prefix else "/"
        outputs = [
            r.Output("BucketName", "The S3 bucket (aws.bucket)", Attr(bucket, "name")),
            r.Output(
                "ArtifactsUri",
                "Where driftloop keeps its files (aws.bucket and aws.prefix)",
                Join(("s3://", Attr(bucket, "name"), folder)),
            ),
            r.Output(
                "SageMakerRoleArn", "The SageMaker execution role (aws.role_arn)", Attr(role, "arn")
            ),
            r.Output(
                "RetrainQueueUrl",
                "The queue rules' retrain targets send to (aws.queue)",
                Attr(queue, "url"),
            ),
            r.Output(
                "RetrainDeadLetterQueueUrl",
                "Where deliveries go after their last attempt",
                Attr(dead_letters, "url"),
            ),
        ]
        outputs += [
            r.Output(f"{key}Arn", f"The ARN of topic {name}", Attr(key, "arn"))
            for name, key in self.topics.items()
        ]
        self.stack.outputs += outputs


def _sns_protocol(topic: Topic, protocol: str, endpoint: str) -> str:
    """SNS's protocol of a subscription, as the aws notifier subscribes it; ConfigError for
    the ones SNS cannot serve."""
    if protocol == "webhook":
        return endpoint.split(":", 1)[0].lower()
    if protocol in ("email", "sqs"):
        return protocol
    raise ConfigError(
        f"topic {topic.name!r}: SNS cannot deliver to {protocol} subscriptions "
        f"({protocol}:{endpoint}); on the aws backend use email, webhook or sqs"
    )


def _endpoints(settings: Settings, alarms: list[AlarmDefinition]) -> list[str]:
    """The endpoints the settings name, in order: the served one, the monitored ones, those
    in alarms' dimensions."""
    names = [settings.serving.endpoint] if settings.serving.endpoint else []
    names += [schedule.endpoint for schedule in settings.monitoring.schedules]
    for alarm in alarms:
        names += [
            alarm.dimensions[key] for key in ("EndpointName", "Endpoint") if key in alarm.dimensions
        ]
    return list(dict.fromkeys(names))
