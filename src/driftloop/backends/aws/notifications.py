"""The aws notifier: driftloop topics as SNS topics, published with SNS Publish.

A topic configured in ``[notifications]`` is created on first use (CreateTopic, idempotent)
under the same name, and each of its subscriptions is added (Subscribe, idempotent for the same
protocol and endpoint; driftloop never removes a subscription). A topic that is not configured
is looked up in SNS by name or ARN, so topics managed elsewhere can be published to; neither
is :class:`NotFoundError`.

Protocols: ``email`` (SNS email; the address confirms once), ``webhook`` (SNS ``http`` or
``https`` by the URL's scheme; the endpoint confirms once) and ``sqs`` (a queue ARN). ``file``
and ``slack`` are :class:`ConfigError`: SNS writes no files, and it posts its own JSON envelope,
which Slack's incoming webhooks refuse. ``[notifications.smtp]`` is not used: SNS sends email.

SNS fans a message out by itself, after Publish returns, so :meth:`SnsNotifier.publish`
returns one result for the whole topic (``sns:<topic ARN>``): ok when SNS accepted the message,
failed with SNS's answer when it refused it. A subscription that later fails is retried by
SNS under the topic's delivery policy, not reported here. The subject is made fit for SNS (see
:func:`sns_subject`); the detail travels as the ``detail`` message attribute (JSON).
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

import orjson

from driftloop.backends.aws._clients import call, client, translated
from driftloop.config import Settings, Subscription, Topic
from driftloop.errors import CloudError, ConfigError, NotFoundError, NotificationFailed
from driftloop.notifications.base import DeliveryResult, Notifier

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends

SUBJECT_LIMIT = 100
"""SNS's longest subject, in (ASCII) characters."""
EVENTS_MAY_PUBLISH = "driftloop-eventbridge-rules"
"""Sid of the topic policy statement that lets EventBridge rules publish."""


class SnsNotifier(Notifier):
    """Publishes to SNS topics; the configured ones are created with their subscriptions."""

    def __init__(self, settings: Settings, stores: Backends | None = None) -> None:
        self.topics = {topic.name: topic for topic in settings.notifications.topics}
        self.sns = client(settings, "sns")
        self._arns: dict[str, str] = {}

    def check_topic(self, topic: str) -> None:
        self.topic_arn(topic)

    def topic_arn(self, name: str) -> str:
        """The ARN of topic ``name`` (a name or an ARN), creating a configured topic and its
        subscriptions on first use."""
        if name not in self._arns:
            topic = self.topics.get(name)
            self._arns[name] = self._create(topic) if topic else self._look_up(name)
        return self._arns[name]

    def publish(
        self,
        topic: str,
        subject: str,
        message: str,
        detail: dict[str, Any] | None = None,
        *,
        strict: bool = True,
    ) -> list[DeliveryResult]:
        arn = self.topic_arn(topic)
        request: dict[str, Any] = {"TopicArn": arn, "Message": message}
        if subject := sns_subject(subject):
            request["Subject"] = subject
        if detail:
            value = orjson.dumps(detail).decode()
            request["MessageAttributes"] = {"detail": {"DataType": "String", "StringValue": value}}
        try:
            call("sns", self.sns.publish, f"topic {topic!r}", **request)
        except NotFoundError:
            self._arns.pop(topic, None)  # deleted behind our back: look it up again next time
            raise
        except CloudError as exc:
            results = [DeliveryResult(f"sns:{arn}", False, exc.message)]
        else:
            results = [DeliveryResult(f"sns:{arn}", True)]
        if strict and not results[0].ok:
            raise NotificationFailed(topic, results)
        return results

    def allow_eventbridge(self, arn: str) -> None:
        """Add the statement letting EventBridge rules publish to topic ``arn`` to its policy
        (once; the rest of the policy is kept)."""
        what = f"topic {arn}"
        attributes = call("sns", self.sns.get_topic_attributes, what, TopicArn=arn)["Attributes"]
        policy = orjson.loads(attributes.get("Policy") or '{"Version": "2012-10-17"}')
        statements = policy.setdefault("Statement", [])
        if any(s.get("Sid") == EVENTS_MAY_PUBLISH for s in statements):
            return
        statements.append(
            {
                "Sid": EVENTS_MAY_PUBLISH,
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": arn,
            }
        )
        call(
            "sns",
            self.sns.set_topic_attributes,
            what,
            TopicArn=arn,
            AttributeName="Policy",
            AttributeValue=orjson.dumps(policy).decode(),
        )

    def _create(self, topic: Topic) -> str:
        """CreateTopic, then Subscribe each subscription; refuse the unservable ones first."""
        subscriptions = [(sns_protocol(topic, s), s.endpoint) for s in topic.subscriptions]
        what = f"topic {topic.name!r}"
        arn = str(call("sns", self.sns.create_topic, what, Name=topic.name)["TopicArn"])
        for protocol, endpoint in subscriptions:
            call(
                "sns", self.sns.subscribe, what, TopicArn=arn, Protocol=protocol, Endpoint=endpoint
            )
        return arn

    def _look_up(self, name: str) -> str:
        """The ARN of an SNS topic that is not configured; :class:`NotFoundError` if none."""
        what = f"topic {name!r}"
        if name.startswith("arn:"):
            call("sns", self.sns.get_topic_attributes, what, TopicArn=name)
            return name
        pages = self.sns.get_paginator("list_topics").paginate()
        with translated("sns", "ListTopics", what):
            listed_pages = list(pages)
        for page in listed_pages:
            for listed in page.get("Topics", []):
                if str(listed["TopicArn"]).rsplit(":", 1)[-1] == name:
                    return str(listed["TopicArn"])
        raise NotFoundError(
            f"no notification topic named {name!r} in [notifications] or in SNS",
            details={"topic": name},
        )


def sns_protocol(topic: Topic, subscription: Subscription) -> str:
    """SNS's protocol for ``subscription``; :class:`ConfigError` when SNS cannot serve it."""
    protocol = str(subscription.protocol)
    if protocol == "webhook":
        return subscription.endpoint.split(":", 1)[0].lower()  # http or https
    if protocol in ("email", "sqs"):
        return protocol
    raise ConfigError(
        f"topic {topic.name!r}: SNS cannot deliver to {protocol} subscriptions "
        f"({protocol}:{subscription.endpoint}); on the aws backend use email, webhook or sqs"
    )


def sns_subject(subject: str) -> str:
    """``subject`` as SNS takes it: accents dropped and other non-ASCII characters removed,
    line breaks and runs of whitespace as one space, control characters removed, and cut to
    100 characters with "..." when longer. "" means no subject."""
    text = unicodedata.normalize("NFKD", subject).encode("ascii", "ignore").decode()
    text = "".join(char for char in " ".join(text.split()) if char.isprintable())
    if len(text) > SUBJECT_LIMIT:
        text = text[: SUBJECT_LIMIT - 3].rstrip() + "..."
    return text
