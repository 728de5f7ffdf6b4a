"""AWS in tests: moto's server on a loopback port (the session fixture ``moto_url`` in
tests/conftest.py) and settings of the aws backend against it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from driftloop.config import AWS_SERVICES, Settings, load_settings

BUCKET = "driftloop-contracts"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port, with fake credentials in the environment."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def aws_settings(home: Path, url: str, **overrides: Any) -> Settings:
    """Settings of the aws kind against moto at ``url``, one attempt per call."""
    aws = {
        "region": REGION,
        "bucket": BUCKET,
        "prefix": "team/churn",
        "max_attempts": 1,
        "role_arn": "arn:aws:iam::123456789012:role/driftloop-sagemaker",
        "endpoint_urls": dict.fromkeys(AWS_SERVICES, url),
    }
    return load_settings(home=home, backend={"kind": "aws"}, aws=aws, **overrides)


def settings_for(
    kind: str, home: Path, request: pytest.FixtureRequest, **overrides: Any
) -> Settings:
    """Settings of backend ``kind`` for a fresh workspace (and, on aws, a fresh moto)."""
    if kind != "aws":
        return load_settings(home=home, backend={"kind": kind}, **overrides)
    url = request.getfixturevalue("moto_url")
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=url)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return aws_settings(home, url, **overrides)
