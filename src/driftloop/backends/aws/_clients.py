"""boto3 clients for the aws backend, and AWS errors as driftloop's.

Clients come from one session per settings (region and endpoint URL overrides from
``[aws]``, credentials from the usual chain) with botocore's standard retry mode. A failed
call becomes :class:`~driftloop.errors.NotFoundError` when AWS says the thing does not exist,
else :class:`~driftloop.errors.CloudError`, naming the service, the operation and what AWS
said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from driftloop.config import Settings
from driftloop.errors import CloudError, NotFoundError

T = TypeVar("T")
NOT_FOUND = {
    "404",
    "NoSuchKey",
    "NotFound",
    "NotFoundException",
    "ResourceNotFound",
    "ResourceNotFoundException",
    "ResourceNotFoundFault",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
}


def client(settings: Settings, service: str) -> Any:
    """A boto3 client of ``service`` for ``settings.aws``."""
    aws = settings.aws
    config = Config(
        retries={"max_attempts": aws.max_attempts, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    session = boto3.session.Session(region_name=aws.region)
    if session.region_name is None:
        raise CloudError("no AWS region: set aws.region or AWS_REGION")
    return session.client(service, endpoint_url=aws.endpoint_urls.get(service), config=config)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(service: str, operation: str, what: str = "") -> Iterator[None]:
    """Raise AWS failures inside the block as driftloop errors naming ``what``."""
    try:
        yield
    except ClientError as error:
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message") or code
        subject = f"{what}: " if what else ""
        if code in NOT_FOUND:
            raise NotFoundError(f"{subject}{service} {operation}: {message}") from None
        if code == "NoSuchBucket":  # the configuration is wrong, not a missing object
            raise CloudError(
                f"{subject}the bucket does not exist; create it or name another bucket"
            ) from None
        raise CloudError(f"{subject}{service} {operation} failed ({code}): {message}") from None
    except BotoCoreError as error:
        raise CloudError(f"{service} {operation} failed: {error}") from None


def call(service: str, operation: Callable[..., T], what: str = "", **kwargs: Any) -> T:
    """``operation(**kwargs)`` with its failures translated (see :func:`translated`)."""
    name = getattr(operation, "__name__", "call")
    with translated(service, name, what):
        return operation(**kwargs)
