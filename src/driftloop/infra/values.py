"""Values that are only known once the resources exist: an attribute of a resource, a property
of the account or region deployed to, a parameter. Each renderer writes them its own way
(CloudFormation's ``Ref``/``Fn::GetAtt``/``Fn::Sub``, Terraform's references and templates)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Attribute = Literal["arn", "name", "url"]


@dataclass(frozen=True)
class Attr:
    """Attribute ``attribute`` of the resource ``key`` of the same stack."""

    key: str
    attribute: Attribute


@dataclass(frozen=True)
class Pseudo:
    """The partition, region or account the stack is deployed to."""

    name: Literal["partition", "region", "account"]


@dataclass(frozen=True)
class Param:
    """The value of the stack's parameter ``key``."""

    key: str


Reference = Attr | Pseudo | Param


@dataclass(frozen=True)
class Join:
    """The text of ``parts`` one after the other."""

    parts: tuple[str | Reference, ...]


Expression = Reference | Join

PARTITION, REGION, ACCOUNT = Pseudo("partition"), Pseudo("region"), Pseudo("account")


def arn(service: str, resource: str, *, region: bool = True, account: bool = True) -> Join:
    """``arn:<partition>:<service>:<region>:<account>:<resource>`` of the stack's account."""
    return Join(
        (
            "arn:",
            PARTITION,
            f":{service}:",
            *((REGION,) if region else ()),
            ":",
            *((ACCOUNT,) if account else ()),
            f":{resource}",
        )
    )


def references(value: object) -> Iterator[Reference]:
    """Every reference inside ``value`` (nested lists, dicts and joins)."""
    if isinstance(value, Attr | Pseudo | Param):
        yield value
    elif isinstance(value, Join):
        for part in value.parts:
            yield from references(part)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from references(item)
