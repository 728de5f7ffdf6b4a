"""The SageMaker execution role's permissions: the IAM policy document kept in the repository
(:data:`POLICY_FILE`), read when the infrastructure is rendered.

The document names its resources with CloudFormation ``Fn::Sub`` placeholders: the pseudo
parameters ``${AWS::Partition}``, ``${AWS::Region}`` and ``${AWS::AccountId}``, which stay
references to the account deployed to, and the settings' names (:data:`PLACEHOLDERS`), which
are filled in from the config. IAM's own policy variables (``${aws:username}``) stay as they
are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftloop.config import Settings
from driftloop.errors import ConfigError
from driftloop.infra.values import ACCOUNT, PARTITION, REGION, Join, Pseudo

POLICY_FILE = Path("docs/iam/sagemaker_role_policy.json")
"""Where the role's policy document is kept, relative to the working folder."""
PSEUDO_PARAMETERS: dict[str, Pseudo] = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
}
PLACEHOLDERS = {
    "Bucket": "aws.bucket",
    "Prefix": "aws.prefix, without slashes at either end",
    "Queue": "aws.queue (its dead-letter queue is <aws.queue>-dead-letters)",
    "EventBus": "aws.event_bus",
    "ModelName": "registry.model_name, in lower case as SageMaker's ARNs have it",
    "ExecutionRoleName": "the name of the role aws.role_arn names",
}
"""Each named placeholder of the document and the setting it stands for."""
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_IAM_VARIABLE = re.compile(r"[a-z0-9-]+:[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class RolePolicy:
    reference: str
    """The file, as it was named: the rendered role refers to it while it does not exist."""
    document: dict[str, Any] | None
    """The policy document; None when the file does not exist (yet)."""


def read_role_policy(path: Path = POLICY_FILE) -> RolePolicy:
    """The policy document in ``path``; a missing file gives a policy without a document, a
    file that is no IAM policy document a :class:`ConfigError`."""
    reference = path.as_posix()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return RolePolicy(reference, None)
    except OSError as exc:
        raise ConfigError(f"role policy {reference} cannot be read: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"role policy {reference} is not JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list | dict):
        raise ConfigError(f"role policy {reference} is no IAM policy document (no Statement)")
    return RolePolicy(reference, document)


def placeholder_values(settings: Settings) -> dict[str, str]:
    """What each named placeholder stands for in ``settings``."""
    aws = settings.aws
    return {
        "Bucket": aws.bucket or "",
        "Prefix": aws.prefix.strip("/"),
        "Queue": aws.queue,
        "EventBus": aws.event_bus,
        "ModelName": settings.registry.model_name.lower(),
        "ExecutionRoleName": (aws.role_arn or "").rsplit("/", 1)[-1],
    }


def filled_in(policy: RolePolicy, values: dict[str, str]) -> dict[str, Any] | None:
    """The document with its named placeholders replaced by ``values`` and its pseudo
    parameters as references; :class:`ConfigError` for a placeholder it cannot fill."""
    if policy.document is None:
        return None

    def text(value: str) -> str | Join:
        parts: list[Any] = []
        start = 0
        for match in _PLACEHOLDER.finditer(value):
            name = match[1]
            if name in PSEUDO_PARAMETERS:
                part: Any = PSEUDO_PARAMETERS[name]
            elif values.get(name):
                part = values[name]
            elif name in values:
                raise ConfigError(
                    f"role policy {policy.reference} uses ${{{name}}}, which the config leaves "
                    f"empty ({PLACEHOLDERS[name]})"
                )
            elif _IAM_VARIABLE.fullmatch(name):
                continue  # IAM fills it in itself
            else:
                raise ConfigError(
                    f"role policy {policy.reference} uses ${{{name}}}, which infra render cannot "
                    f"fill in (it knows {', '.join([*PSEUDO_PARAMETERS, *PLACEHOLDERS])})"
                )
            parts += [value[start : match.start()], part]
            start = match.end()
        parts.append(value[start:])
        merged: list[Any] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif part != "":
                merged.append(part)
        if all(isinstance(part, str) for part in merged):
            return "".join(merged)
        return Join(tuple(merged))

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return text(value)
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    document: dict[str, Any] = walk(policy.document)
    return document
