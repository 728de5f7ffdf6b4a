"""The handlers delivery calls, one per target type: ``notify``, ``command`` and ``retrain``.

A handler returns when the target accepted the event and raises when it did not.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from driftloop.errors import ConfigError, TargetFailed
from driftloop.events.rules import CommandTarget, NotifyTarget, Target
from driftloop.workspace import Workspace

Handler = Callable[[Any, dict[str, Any]], None]


class Publisher(Protocol):
    """What a ``notify`` target publishes through (an SNS-style notifier)."""

    def publish(
        self, topic: str, subject: str, message: str, *, detail: dict[str, Any] | None = None
    ) -> Any: ...


def default_handlers(
    workspace: Workspace,
    notifier: Publisher | None,
    retrain: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Handler]:
    """Handlers for ``notify`` (the notifier), ``command`` (a subprocess) and ``retrain``."""

    def notify(target: NotifyTarget, event: dict[str, Any]) -> None:
        if notifier is None:
            raise ConfigError("no notifier configured for notify targets")
        subject = f"{event.get('detail-type', 'Event')} from {event.get('source', 'driftloop')}"
        message = orjson.dumps(event, option=orjson.OPT_INDENT_2).decode()
        notifier.publish(target.topic, subject, message, detail=event)

    def command(target: CommandTarget, event: dict[str, Any]) -> None:
        done = subprocess.run(
            target.command,
            input=orjson.dumps(event),
            capture_output=True,
            timeout=target.timeout.total_seconds(),
            cwd=workspace.root,
            check=False,
        )
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip()[-500:]
            raise TargetFailed(f"{target.command[0]} exited with {done.returncode}: {tail}")

    def run_retrain(target: Target, event: dict[str, Any]) -> None:
        if retrain is None:
            raise ConfigError("a rule targets retraining but no retraining pipeline was given")
        retrain(event)

    return {"notify": notify, "command": command, "retrain": run_retrain}
