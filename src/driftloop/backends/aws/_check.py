"""What the aws backend needs before the loop runs on it: a region, credentials, the bucket
and its versioning (snapshots and models are kept by content hash, and a versioned bucket keeps
an overwritten or deleted object recoverable)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from driftloop.backends.aws._clients import client, error_code
from driftloop.backends.catalog import Check
from driftloop.config import Settings
from driftloop.errors import CloudError


def check(settings: Settings, enable_versioning: bool = False) -> list[Check]:
    """Each requirement, in order; a failed one stops the checks that depend on it."""
    try:
        sts, s3 = client(settings, "sts"), client(settings, "s3")
    except CloudError as exc:
        return [Check("region", False, str(exc))]
    checks = [Check("region", True, str(s3.meta.region_name))]
    try:
        who = sts.get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        return [*checks, Check("credentials", False, f"no usable AWS credentials: {exc}")]
    checks.append(Check("credentials", True, str(who.get("Arn", "?"))))
    bucket = str(settings.aws.bucket)
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        what = "does not exist" if error_code(exc) in ("404", "NoSuchBucket") else str(exc)
        return [*checks, Check("bucket", False, f"s3://{bucket} {what}")]
    checks.append(Check("bucket", True, f"s3://{bucket}/{settings.aws.prefix}"))
    return [*checks, _versioning(s3, bucket, enable_versioning)]


def _versioning(s3: Any, bucket: str, enable: bool) -> Check:
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    if status != "Enabled" and enable:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return Check("versioning", True, "enabled now")
    if status != "Enabled":
        hint = "run `driftloop backend check --enable-versioning`"
        return Check("versioning", False, f"s3://{bucket} is not versioned ({hint})")
    return Check("versioning", True, "enabled")
