"""The alarm service on CloudWatch: PutMetricAlarm, DescribeAlarms, DeleteAlarms,
SetAlarmState and DescribeAlarmHistory.

CloudWatch evaluates metric alarms itself, records their state changes in its history, puts
"CloudWatch Alarm State Change" events on EventBridge's default bus and runs their actions, so
:meth:`CloudWatchAlarmStore.evaluate` only reads the states. Alarm actions must be ARNs: a
topic name is turned into the ARN of the SNS topic of that name.
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from driftloop.alarms.base import AlarmStore, HistoryItem, StoredAlarm
from driftloop.alarms.definition import AlarmDefinition
from driftloop.alarms.evaluate import Evaluation
from driftloop.backends.aws._clients import call, client, translated
from driftloop.backends.aws.metrics import dimension_list
from driftloop.backends.aws.notifications import SnsNotifier
from driftloop.config import Settings
from driftloop.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from driftloop.backends.catalog import Backends

log = logging.getLogger(__name__)

_ACTIONS = ("AlarmActions", "OKActions", "InsufficientDataActions")
_NAMES_PER_CALL = 100  # DescribeAlarms takes at most 100 alarm names
_REASON_CHARS = 1023  # SetAlarmState's longest StateReason


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_FIELDS = tuple(info.alias or name for name, info in AlarmDefinition.model_fields.items())
"""PutMetricAlarm's names of the definition's fields, as DescribeAlarms returns them too."""


def definition(raw: dict[str, Any]) -> AlarmDefinition:
    """A DescribeAlarms metric alarm as a definition; :class:`ConfigError` for one driftloop
    cannot represent (metric math, trimmed means, ...)."""
    fields = {name: raw[name] for name in _FIELDS if name in raw}
    try:
        return AlarmDefinition.model_validate(fields)
    except ValueError as exc:
        name = raw.get("AlarmName")
        raise ConfigError(f"alarm '{name}' is no metric alarm driftloop reads: {exc}") from None


def _stored(raw: dict[str, Any]) -> StoredAlarm:
    return StoredAlarm(
        definition(raw), raw["StateValue"], raw["StateReason"], _iso(raw["StateUpdatedTimestamp"])
    )


def history_item(raw: dict[str, Any]) -> HistoryItem:
    """A StateUpdate item; its HistoryData holds the old and new state."""
    data = json.loads(raw["HistoryData"])
    return HistoryItem(
        raw["AlarmName"],
        _iso(raw["Timestamp"]),
        data["oldState"]["stateValue"],
        data["newState"]["stateValue"],
        data["newState"].get("stateReason", ""),
    )


class CloudWatchAlarmStore(AlarmStore):
    """The metric alarms of the configured region."""

    def __init__(self, settings: Settings, stores: Backends) -> None:
        self.cloudwatch = client(settings, "cloudwatch")
        self.stores = stores  # the notifier turns topic names into ARNs

    def put(self, alarm: AlarmDefinition) -> None:
        """PutMetricAlarm: CloudWatch starts a new alarm INSUFFICIENT_DATA and keeps the state
        of one it updates. A topic name among the actions must name an SNS topic."""
        fields = alarm.model_dump(by_alias=True, exclude_none=True)
        fields["Dimensions"] = dimension_list(alarm.dimensions)
        for key in _ACTIONS:
            fields[key] = [self._arn(action, alarm.alarm_name) for action in fields[key]]
        what = f"alarm '{alarm.alarm_name}'"
        call("cloudwatch", self.cloudwatch.put_metric_alarm, what, **fields)

    def _arn(self, action: str, alarm: str) -> str:
        if action.startswith("arn:"):
            return action
        notifier = self.stores.notifier
        assert isinstance(notifier, SnsNotifier)  # the aws backend builds this one
        try:
            return notifier.topic_arn(action)
        except NotFoundError:
            raise NotFoundError(
                f"alarm '{alarm}': no SNS topic named '{action}' for its actions",
                details={"alarm": alarm, "topic": action},
            ) from None

    def _describe(self, names: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """DescribeAlarms of the named metric alarms (every one when None)."""
        paginator = self.cloudwatch.get_paginator("describe_alarms")
        step = _NAMES_PER_CALL
        chunks = (
            [None] if names is None else [names[i : i + step] for i in range(0, len(names), step)]
        )
        for chunk in chunks:
            named = {} if chunk is None else {"AlarmNames": list(chunk)}
            pages = paginator.paginate(AlarmTypes=["MetricAlarm"], **named)
            with translated("cloudwatch", "DescribeAlarms", ", ".join(chunk or ["every alarm"])):
                raws = [raw for page in pages for raw in page["MetricAlarms"]]
            yield from raws

    def _one(self, name: str) -> dict[str, Any]:
        for raw in self._describe([name]):
            if raw["AlarmName"] == name:
                return raw
        raise NotFoundError(f"no alarm named '{name}'", details={"alarm": name})

    def get(self, name: str) -> StoredAlarm:
        return _stored(self._one(name))

    def list(self) -> builtins.list[AlarmDefinition]:
        """Every metric alarm driftloop can represent; others (metric math, trimmed means)
        are logged and left out."""
        found = []
        for raw in self._describe():
            try:
                found.append(definition(raw))
            except ConfigError as exc:
                log.info("%s", exc)
        return sorted(found, key=lambda alarm: alarm.alarm_name)

    def delete(self, name: str) -> None:
        """DeleteAlarms; CloudWatch keeps the history of a deleted alarm."""
        self._one(name)
        what = f"alarm '{name}'"
        call("cloudwatch", self.cloudwatch.delete_alarms, what, AlarmNames=[name])

    def evaluate(self, now: datetime, names: Sequence[str] | None = None) -> dict[str, Evaluation]:
        """The states CloudWatch has evaluated (``now`` is not used: CloudWatch evaluates every
        period by itself and announces changes itself). Each evaluation is stamped with the
        time CloudWatch last set its state and carries no period values."""
        raws = {raw["AlarmName"]: raw for raw in self._describe(names)}
        missing = [name for name in names or () if name not in raws]
        if missing:
            raise NotFoundError(
                f"no alarm named {', '.join(repr(n) for n in missing)}",
                details={"alarms": missing},
            )
        order = sorted(raws) if names is None else names
        return {
            name: Evaluation(
                raws[name]["StateValue"],
                raws[name]["StateReason"],
                [],
                raws[name]["StateUpdatedTimestamp"].astimezone(UTC),
            )
            for name in order
        }

    def set_state(self, name: str, evaluation: Evaluation) -> tuple[str, str] | None:
        """SetAlarmState when the state differs: CloudWatch records the change in its history
        and runs the alarm's actions, and its next evaluation may set the state back. The
        read and the write are two calls, so a change CloudWatch makes in between is missed."""
        old = str(self._one(name)["StateValue"])
        if old == evaluation.state:
            return None
        call(
            "cloudwatch",
            self.cloudwatch.set_alarm_state,
            f"alarm '{name}'",
            AlarmName=name,
            StateValue=evaluation.state,
            StateReason=evaluation.reason[:_REASON_CHARS],
        )
        return old, evaluation.state

    def history(self, name: str | None = None, limit: int = 100) -> builtins.list[HistoryItem]:
        """DescribeAlarmHistory's state updates (CloudWatch keeps 30 days of them)."""
        if limit < 1:
            return []
        named = {} if name is None else {"AlarmName": name}
        pages = self.cloudwatch.get_paginator("describe_alarm_history").paginate(
            **named,
            HistoryItemType="StateUpdate",
            ScanBy="TimestampDescending",
            PaginationConfig={"MaxItems": limit, "PageSize": min(limit, 100)},
        )
        with translated("cloudwatch", "DescribeAlarmHistory", f"alarm '{name or 'all'}'"):
            raws = [raw for page in pages for raw in page["AlarmHistoryItems"]]
        return [history_item(raw) for raw in raws[:limit]]
