"""The aws rule store: EventBridge rules on ``aws.event_bus``.

A driftloop rule is an EventBridge rule of the same name (PutRule) whose targets (PutTargets)
are ``notify`` -> the SNS topic's ARN (EventBridge publishes the event JSON itself; the topic
gets a policy statement letting EventBridge publish) and ``retrain`` -> the ``aws.queue`` SQS
queue (created if missing, see ``_queues``), which the bus's ``deliver_pending`` consumes.
``command`` targets are :class:`ConfigError`: nothing on AWS runs local programs.

What EventBridge cannot hold is kept where it reads back from (the shapes are in
:mod:`driftloop.events.eventbridge`, which ``driftloop infra render`` declares too):

- target order and type: each target's Id is ``driftloop-<index>-<type>``; a notify target's
  topic is the last part of its ARN;
- a queue target's input wraps the event as ``{"rule", "target", "spec", "event"}`` (an input
  transformer), so the consumer knows which rule and target it delivers;
- the empty pattern (match everything), which EventBridge refuses, is put as
  :data:`MATCH_ALL` and read back as ``{}``;
- "in the order they were first put": the rule's Description is
  ``driftloop rule, first put <time>`` and :meth:`list` sorts on it (a replaced rule keeps
  its time). Rules without that Description belong to someone else: they are not listed nor
  found, and putting a driftloop rule of the same name is a :class:`ConfigError`.

A put that fails half-way (PutRule done, PutTargets refused) leaves the rule with the targets
EventBridge accepted; putting it again repairs it.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from driftloop.backends.aws._clients import call, client
from driftloop.backends.aws._queues import DeliveryQueues
from driftloop.backends.aws.notifications import SnsNotifier
from driftloop.config import Settings
from driftloop.errors import CloudError, ConfigError, NotFoundError
from driftloop.events.base import RuleStore
from driftloop.events.eventbridge import (
    MATCH_ALL,
    TARGET_ID,
    command_refused,
    event_pattern,
    is_driftloop_rule,
    retrain_input,
    rule_description,
    target_id,
)
from driftloop.events.rules import NotifyTarget, RetrainTarget, Rule, Target, parse_rule

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends


class EventBridgeRuleStore(RuleStore):
    """driftloop's rules as EventBridge rules on ``aws.event_bus``."""

    def __init__(self, settings: Settings, stores: Backends) -> None:
        self.bus = settings.aws.event_bus
        self.events = client(settings, "events")
        self.stores = stores
        self.queues = DeliveryQueues(settings)

    def list(self) -> list[Rule]:
        pages = self.events.get_paginator("list_rules").paginate(EventBusName=self.bus)
        listed = [
            rule
            for page in call("events", lambda: builtins.list(pages), f"bus {self.bus!r}")
            for rule in page.get("Rules", [])
            if is_driftloop_rule(str(rule.get("Description", "")))
        ]
        listed.sort(key=lambda rule: (rule["Description"], rule["Name"]))
        return [self._read(rule) for rule in listed]

    def get(self, name: str) -> Rule:
        return self._read(self._describe(name))

    def put(self, rule: Rule | dict[str, Any]) -> Rule:
        parsed = parse_rule(rule)
        try:
            existing = dict(self._call("describe_rule", parsed.name, Name=parsed.name))
        except NotFoundError:
            existing = {"Description": rule_description(datetime.now(UTC))}
        description = str(existing.get("Description", ""))
        if not is_driftloop_rule(description):
            raise ConfigError(
                f"rule {parsed.name!r} on bus {self.bus!r} is not driftloop's; use another name"
            )
        targets = [
            self._target(parsed, index, target) for index, target in enumerate(parsed.targets)
        ]
        stale = self._target_ids(parsed.name) if "Name" in existing else set()
        self._call(
            "put_rule",
            parsed.name,
            Name=parsed.name,
            EventPattern=orjson.dumps(event_pattern(parsed)).decode(),
            State="ENABLED" if parsed.enabled else "DISABLED",
            Description=description,
        )
        if targets:
            answer = self._call("put_targets", parsed.name, Rule=parsed.name, Targets=targets)
            _check_failed("PutTargets", parsed.name, answer)
        self._remove_targets(parsed.name, stale - {target["Id"] for target in targets})
        return parsed

    def delete(self, name: str) -> None:
        self._describe(name)
        self._remove_targets(name, self._target_ids(name))
        self._call("delete_rule", name, Name=name)

    def _call(self, operation: str, name: str, **kwargs: Any) -> Any:
        """EventBridge ``operation`` on the bus, about rule ``name``."""
        method = getattr(self.events, operation)
        return call("events", method, f"rule {name!r}", EventBusName=self.bus, **kwargs)

    def _describe(self, name: str) -> dict[str, Any]:
        """DescribeRule of a driftloop rule; :class:`NotFoundError` for any other name."""
        described = dict(self._call("describe_rule", name, Name=name))
        if not is_driftloop_rule(str(described.get("Description", ""))):
            raise NotFoundError(f"rule {name!r} is not a driftloop rule", details={"rule": name})
        return described

    def _listed_targets(self, name: str) -> builtins.list[dict[str, Any]]:
        pages = self.events.get_paginator("list_targets_by_rule").paginate(
            Rule=name, EventBusName=self.bus
        )
        listed = call("events", lambda: builtins.list(pages), f"rule {name!r}")
        return [target for page in listed for target in page.get("Targets", [])]

    def _target_ids(self, name: str) -> set[str]:
        return {str(target["Id"]) for target in self._listed_targets(name)}

    def _remove_targets(self, name: str, ids: set[str]) -> None:
        if ids:
            answer = self._call("remove_targets", name, Rule=name, Ids=sorted(ids))
            _check_failed("RemoveTargets", name, answer)

    def _read(self, described: dict[str, Any]) -> Rule:
        """The driftloop rule behind an EventBridge rule and its targets."""
        name = str(described["Name"])
        pattern = orjson.loads(described.get("EventPattern") or "{}")
        ours = [t for t in self._listed_targets(name) if str(t["Id"]).startswith(TARGET_ID)]
        ours.sort(key=lambda target: int(str(target["Id"]).split("-")[1]))
        return parse_rule(
            {
                "name": name,
                "event_pattern": {} if pattern == MATCH_ALL else pattern,
                "targets": [_read_target(target) for target in ours],
                "enabled": described.get("State") != "DISABLED",
            }
        )

    def _target(self, rule: Rule, index: int, target: Target) -> dict[str, Any]:
        """The EventBridge target of ``rule``'s target number ``index``."""
        id_ = target_id(index, target.type)
        if isinstance(target, NotifyTarget):
            notifier = self.stores.notifier
            if not isinstance(notifier, SnsNotifier):
                raise ConfigError("notify targets on the aws backend need its SNS notifier")
            arn = notifier.topic_arn(target.topic)
            notifier.allow_eventbridge(arn)
            return {"Id": id_, "Arn": arn}
        if isinstance(target, RetrainTarget):
            transformer = retrain_input(rule, index, target)
            return {"Id": id_, "Arn": self.queues.main.arn, "InputTransformer": transformer}
        raise ConfigError(command_refused(rule.name, target.type))


def _read_target(target: dict[str, Any]) -> dict[str, Any]:
    kind = str(target["Id"]).split("-")[2]
    if kind == "notify":
        return {"type": "notify", "topic": str(target["Arn"]).rsplit(":", 1)[-1]}
    return {"type": kind}


def _check_failed(operation: str, name: str, answer: dict[str, Any]) -> None:
    """CloudError naming the first entry EventBridge refused, if any."""
    failed = answer.get("FailedEntries") or []
    if answer.get("FailedEntryCount") or failed:
        first = failed[0] if failed else {}
        raise CloudError(
            f"rule {name!r}: events {operation} refused {len(failed)} target(s): "
            f"{first.get('TargetId')}: {first.get('ErrorCode')}: {first.get('ErrorMessage')}"
        )
