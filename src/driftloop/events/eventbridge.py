"""How a driftloop rule looks on EventBridge: what the aws rule store puts and reads back, and
what ``driftloop infra render`` declares, so both make the same rules.

- the empty pattern, which EventBridge refuses, is :data:`MATCH_ALL`;
- a driftloop rule's Description starts with :data:`ORDER` and ends with the time it was first
  put, which orders the rules; rules without it belong to someone else;
- target number ``index`` of type ``type`` has the Id ``driftloop-<index>-<type>``;
- a ``retrain`` target's input wraps the event as ``{"rule", "target", "spec", "event"}``
  (an input transformer with no input paths), so the queue's consumer knows what it delivers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from driftloop.events.rules import RetrainTarget, Rule

MATCH_ALL = {"source": [{"prefix": ""}]}
"""The pattern put for driftloop's empty pattern: every event has a source."""
ORDER = "driftloop rule, first put "
"""Description prefix of driftloop's rules; the rest orders them."""
TARGET_ID = "driftloop-"
"""Id prefix of the targets driftloop puts."""


def event_pattern(rule: Rule) -> dict[str, Any]:
    """The EventBridge pattern of ``rule``: its own, or :data:`MATCH_ALL` for the empty one."""
    return rule.event_pattern or MATCH_ALL


def rule_description(first_put: datetime) -> str:
    """The Description of a driftloop rule first put at ``first_put``."""
    return f"{ORDER}{first_put.isoformat()}"


def is_driftloop_rule(description: str) -> bool:
    """Whether an EventBridge rule with this Description is one of driftloop's."""
    return description.startswith(ORDER)


def target_id(index: int, kind: str) -> str:
    """The Id of target number ``index`` (of type ``kind``) of a driftloop rule."""
    return f"{TARGET_ID}{index}-{kind}"


def retrain_input(rule: Rule, index: int, target: RetrainTarget) -> dict[str, Any]:
    """The input transformer of ``rule``'s retrain target number ``index``."""
    envelope = {"rule": rule.name, "target": index, "spec": target.model_dump(mode="json")}
    template = orjson.dumps(envelope).decode()[:-1] + ', "event": <aws.events.event.json>}'
    return {"InputPathsMap": {}, "InputTemplate": template}


def command_refused(rule: str, kind: str) -> str:
    """Why a target of type ``kind`` of rule ``rule`` cannot be put on EventBridge."""
    return (
        f"rule {rule!r}: {kind} targets run local programs, which the aws backend cannot; "
        "use a retrain or notify target"
    )
