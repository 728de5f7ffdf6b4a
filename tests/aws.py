"""AWS in tests: moto's server on a loopback port (the session fixture ``moto_url`` in
tests/conftest.py) and settings of the aws backend against it."""

from __future__ import annotations

import http.client
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import orjson
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


@dataclass(frozen=True)
class Request:
    """One request the proxy received: its operation (``AWSEvents.PutRule`` for the JSON
    protocols, the query protocol's ``Action``, else ``METHOD /path``) and path."""

    operation: str
    path: str


class AwsProxy:
    """A loopback HTTP proxy in front of moto's server: every request is recorded and passed
    on, except those of the operations in ``refuse``, which it answers as a JSON-protocol
    service refuses a call (HTTP 400, ``x-amzn-ErrorType`` and ``{"__type", "message"}``),
    without passing them on. ``with AwsProxy(moto_url) as proxy:`` runs it on a free port."""

    def __init__(self, upstream: str, refuse: dict[str, tuple[str, str]] | None = None) -> None:
        self.upstream = urlsplit(upstream)
        self.refuse = dict(refuse or {})
        """Operation -> (error code, message) answered instead of passing the request on."""
        self.seen: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> AwsProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def operations(self) -> list[str]:
        return [request.operation for request in self.seen]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the test reads ``seen``

            def _any(self) -> None:
                body = self._body()
                operation = _operation(self.command, self.path, self.headers, body)
                proxy.seen.append(Request(operation, self.path))
                if operation in proxy.refuse:
                    self._refuse(*proxy.refuse[operation])
                else:
                    self._forward(body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _refuse(self, code: str, message: str) -> None:
                answer = orjson.dumps({"__type": code, "message": message})
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-ErrorType", code)
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _forward(self, body: bytes) -> None:
                target = proxy.upstream
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                skipped = {"transfer-encoding", "content-length", "connection"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skipped}
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    data = answer.read()
                    self.send_response(answer.status, answer.reason)
                    for key, value in answer.getheaders():
                        if key.lower() not in skipped:
                            self.send_header(key, value)
                    length = answer.getheader("Content-Length")
                    head = self.command == "HEAD" and length is not None
                    self.send_header("Content-Length", length if head else str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    connection.close()

        return Handler


def _operation(method: str, path: str, headers: Any, body: bytes) -> str:
    """The AWS operation a request asks for, as far as its protocol says."""
    if target := headers.get("X-Amz-Target"):
        return str(target)
    if "/operation/" in path:  # smithy RPC v2 (CloudWatch): /service/<service>/operation/<op>
        parts = path.split("/")
        return f"{parts[2]}.{parts[4]}"
    if headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode()).get("Action")
        if action:
            return action[0]
    return f"{method} {path.split('?')[0]}"
