"""boto3 clients for the aws backend, and AWS errors as driftloop's.

Clients come from one session per settings (region and endpoint URL overrides from
``[aws]``, credentials from the usual chain) with botocore's standard retry mode. A failed
call becomes :class:`~driftloop.errors.NotFoundError` when AWS says the thing does not exist,
else :class:`~driftloop.errors.CloudError`: one sentence naming what was asked for, the
service, the operation (AWS's name, e.g. ``PutObject``) and what AWS said, which says so when
the call was denied, its credentials were refused, or it was still throttled after every
attempt botocore made.
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
DENIED = {
    "403",  # botocore's code when a 403 answer has no body (S3's HeadObject, HeadBucket)
    "AccessDenied",
    "AccessDeniedException",
    "AuthorizationError",
    "Forbidden",
    "NotAuthorized",
    "UnauthorizedOperation",
}
"""Codes of a call the credentials are not allowed to make."""
BAD_CREDENTIALS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
}
"""Codes of a call whose credentials AWS does not accept."""
THROTTLED = {
    "429",
    "BandwidthLimitExceeded",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "ThrottledException",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
}
"""Codes of a throttled call (botocore retries them; LimitExceededException, which it retries
too, is left out: SageMaker uses it for quotas)."""


def client(settings: Settings, service: str) -> Any:
    """A boto3 client of ``service`` for ``settings.aws``."""
    aws = settings.aws
    config = Config(
        # botocore's "max_attempts" counts retries only; aws.max_attempts counts every attempt
        retries={"total_max_attempts": aws.max_attempts, "mode": "standard"},
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
    """Raise AWS failures inside the block as driftloop errors naming ``what``; the operation
    is the one botocore reports, else ``operation``."""
    try:
        yield
    except ClientError as error:
        raise _translate(error, service, error.operation_name or operation, what) from None
    except BotoCoreError as error:
        raise CloudError(f"{service} {operation} failed: {error}") from None


def _translate(
    error: ClientError, service: str, operation: str, what: str
) -> NotFoundError | CloudError:
    code = error_code(error)
    message = error.response.get("Error", {}).get("Message") or code
    said = code if message == code else f"{code}: {message}"
    asked = f"{what}: {service} {operation}" if what else f"{service} {operation}"
    if code in NOT_FOUND:
        return NotFoundError(f"{asked}: {message}")
    if code == "NoSuchBucket":  # the configuration is wrong, not a missing object
        subject = f"{what}: " if what else ""
        return CloudError(f"{subject}the bucket does not exist; create it or name another bucket")
    if code in DENIED:
        return CloudError(
            f"{asked} was denied ({said}); the AWS credentials in use need permission for it"
        )
    if code in BAD_CREDENTIALS:
        return CloudError(f"{asked} was refused: AWS does not accept the credentials ({said})")
    if code in THROTTLED:
        tries = int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
        return CloudError(
            f"{asked} was throttled ({said}) after {tries} attempt{'s' if tries > 1 else ''}; "
            "try again later or raise aws.max_attempts"
        )
    return CloudError(f"{asked} failed ({said})")


def call(service: str, operation: Callable[..., T], what: str = "", **kwargs: Any) -> T:
    """``operation(**kwargs)`` with its failures translated (see :func:`translated`)."""
    name = getattr(operation, "__name__", "call")  # botocore's name replaces it on failure
    with translated(service, name, what):
        return operation(**kwargs)
