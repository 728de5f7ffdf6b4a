"""Every backend kind runs the same contract tests: a new backend passes exactly these.

A test module names the stores it exercises (``STORES``); it runs for every kind that builds
all of them. The aws kind runs against moto's server, started once on a loopback port and
reset before each test.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from driftloop.backends.catalog import KINDS, Backends, builds
from driftloop.config import AWS_SERVICES, Settings, load_settings

BUCKET = "driftloop-contracts"
REGION = "us-east-1"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend_kind" in metafunc.fixturenames:
        needed = set(getattr(metafunc.module, "STORES", ()))
        kinds = [kind for kind in sorted(KINDS) if needed <= set(builds(kind))]
        metafunc.parametrize("backend_kind", kinds)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server on a loopback port, with fake credentials in the environment."""
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


@pytest.fixture
def backends(backend_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backends:
    """The stores of one backend kind, for a fresh workspace."""
    return Backends.from_settings(settings_for(backend_kind, tmp_path / ".driftloop", request))
