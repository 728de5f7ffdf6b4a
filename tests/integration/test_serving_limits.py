"""Clients that stop reading or crawl, against a real one-worker server on loopback: an oversized
body's 413 reaches a client that keeps sending, and slow clients are cut at their deadline while
others are served."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.exceptions import ClientError

from driftloop.data.generator import generate
from tests.servers import SERVE, Server, post, start_server

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[2] / "train_model.py"
DEADLINE_S = 2.0
SLACK_S = 2.0
BIG = 20 * 1024 * 1024  # over the 6 MB limit
CSV = {"content-type": "text/csv"}
UNSIGNED_ENOUGH = {
    "region_name": "us-east-1",
    "aws_access_key_id": "t",
    "aws_secret_access_key": "t",
}


def runtime_client(url: str, **options: Any) -> Any:
    """boto3's unchanged sagemaker-runtime client for ``url`` (a local server takes any key)."""
    return boto3.client("sagemaker-runtime", endpoint_url=url, **UNSIGNED_ENOUGH, **options)


def train_tiny_model(root: Path) -> tuple[Path, bytes]:
    """A driftloop model trained by the script-mode entry point on generated rows, and a CSV
    body of three rows it answers."""
    rows = generate(1200, seed=5)
    channels = {name: root / "input" / name for name in ("train", "validation")}
    for folder in channels.values():
        folder.mkdir(parents=True)
    rows.iloc[:900].to_csv(channels["train"] / "train.csv", index=False)
    rows.iloc[900:].to_csv(channels["validation"] / "validation.csv", index=False)
    env = {
        "SM_MODEL_DIR": str(root / "model"),
        "SM_CHANNEL_TRAIN": str(channels["train"]),
        "SM_CHANNEL_VALIDATION": str(channels["validation"]),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_OUTPUT_DIR": str(root / "output"),
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--candidates", "logistic_regression", "--seed", "3"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    body = rows.iloc[900:903].drop(columns=["Churn"]).to_csv(index=False).encode()
    return root / "model", body


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    return train_tiny_model(tmp_path_factory.mktemp("ml"))


@pytest.fixture(scope="module")
def server(model: tuple[Path, bytes], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("limits")
    env = {
        "SM_MODEL_DIR": str(model[0]),
        "DRIFTLOOP_HOME": str(root / "home"),
        "DRIFTLOOP_SERVING__HEADER_TIMEOUT": str(DEADLINE_S),
        "DRIFTLOOP_SERVING__BODY_TIMEOUT": str(DEADLINE_S),
    }
    running = start_server(["--host", "127.0.0.1", "--workers", "1"], env, root / "log", [SERVE])
    try:
        running.wait_ready()
        yield running
    finally:
        assert running.stop() in (0, -signal.SIGTERM)


def _answers(server: Server, body: bytes) -> None:
    status, _, answer = post(f"{server.url}/invocations", body, CSV, timeout=5)
    assert status == 200, answer
    assert len(orjson.loads(answer)["predictions"]) == 3


def _too_large(body: bytes) -> None:
    error = orjson.loads(body)["error"]
    assert error["code"] == "payload_too_large"
    assert "limit" in error["message"] and str(6 * 1024 * 1024) in error["message"]


def test_urllib_sending_20_mb_reads_the_413(server: Server, model: tuple[Path, bytes]) -> None:
    # urllib sends "Connection: close" and the whole body before it reads: the case that
    # used to end in a connection reset.
    for _ in range(3):
        status, headers, body = post(f"{server.url}/invocations", b"1" * BIG, CSV)
        assert status == 413
        assert headers["x-amzn-errortype"] == "ValidationError"
        _too_large(body)
    _answers(server, model[1])


def test_http_client_reads_the_413_sized_or_chunked(
    server: Server, model: tuple[Path, bytes]
) -> None:
    sized = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    sized.request("POST", "/invocations", body=b"1" * BIG, headers=CSV)
    answer = sized.getresponse()
    assert answer.status == 413 and answer.getheader("connection") == "close"
    _too_large(answer.read())
    sized.close()

    # No Content-Length: the limit is found while reading, after 6 MB arrived.
    chunks = (b"1" * 65536 for _ in range(BIG // 65536))
    chunked = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunked.request("POST", "/invocations", body=chunks, headers=CSV, encode_chunked=True)
    answer = chunked.getresponse()
    assert answer.status == 413
    assert orjson.loads(answer.read())["error"]["code"] == "payload_too_large"
    chunked.close()
    _answers(server, model[1])


def test_boto3_reads_the_413(server: Server) -> None:
    with pytest.raises(ClientError) as raised:
        runtime_client(server.url).invoke_endpoint(
            EndpointName="default", Body=b"1" * BIG, ContentType="text/csv"
        )
    answer = raised.value.response
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert answer["Error"]["Code"] == "ValidationError"
    assert str(6 * 1024 * 1024) in answer["Error"]["Message"]


def test_a_raw_client_that_keeps_sending_gets_the_413_then_the_end(
    server: Server, model: tuple[Path, bytes]
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        head = "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
        sock.sendall(f"{head}Content-Length: {BIG}\r\n\r\n".encode())
        started, sent = time.monotonic(), 0
        # Keep sending past the body deadline without reading: no reset may come.
        while time.monotonic() - started < DEADLINE_S + 1:
            sock.sendall(b"1" * 65536)
            sent += 65536
            time.sleep(0.01)
        sock.shutdown(socket.SHUT_WR)
        received = _read_to_end(sock)
    assert sent > 6 * 1024 * 1024
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in head.lower()
    _too_large(body)
    _answers(server, model[1])


def test_slow_headers_are_cut_at_the_deadline_while_others_are_served(
    server: Server, model: tuple[Path, bytes]
) -> None:
    request = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n" * 20
    received, took = _trickled(server, request, others=lambda: _answers(server, model[1]))
    assert DEADLINE_S - 0.2 <= took <= DEADLINE_S + SLACK_S
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    error = orjson.loads(body)["error"]
    assert error["code"] == "request_timeout" and "headers" in error["message"]


def test_a_slow_body_is_cut_at_the_deadline_quietly(
    server: Server, model: tuple[Path, bytes]
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n")
        received, took = _trickled(server, b"1" * 500, sock=sock)
    assert DEADLINE_S - 0.2 <= took <= DEADLINE_S + SLACK_S
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert "body" in orjson.loads(body)["error"]["message"]
    _answers(server, model[1])
    log = server.log.read_text(errors="replace")
    assert "Exception in ASGI application" not in log and "Traceback" not in log


def test_many_crawling_clients_hold_nothing(server: Server, model: tuple[Path, bytes]) -> None:
    crawlers = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(30)]
    try:
        started = time.monotonic()
        for sock in crawlers:
            sock.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 99\r\n")
        begun = time.monotonic()
        _answers(server, model[1])  # the one worker answers meanwhile
        assert time.monotonic() - begun < 1.5
        for sock in crawlers:
            sock.settimeout(DEADLINE_S + SLACK_S)
            assert _read_to_end(sock, resets=True).startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - started <= DEADLINE_S + SLACK_S
    finally:
        for sock in crawlers:
            sock.close()


def test_a_connection_that_sends_nothing_is_closed_silently(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(100) == b""
        took = time.monotonic() - started
    assert DEADLINE_S - 0.2 <= took <= DEADLINE_S + SLACK_S


def test_the_worker_survived_every_client(server: Server, model: tuple[Path, bytes]) -> None:
    workers = server.workers()
    threads = [threading.Thread(target=_answers, args=(server, model[1])) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.process.poll() is None and server.workers() == workers
    with urllib.request.urlopen(f"{server.url}/ping", timeout=5) as answer:
        assert answer.status == 200


def _trickled(
    server: Server,
    data: bytes,
    *,
    sock: socket.socket | None = None,
    others: Callable[[], None] | None = None,
) -> tuple[bytes, float]:
    """Send ``data`` one byte every 0.25 s until the server answers or closes; what it sent
    back and how long after the start that took. ``others`` runs meanwhile, twice."""
    own = sock is None
    conn = sock or socket.create_connection(("127.0.0.1", server.port), timeout=10)
    stop = threading.Event()

    def trickle() -> None:
        for byte in data:
            if stop.wait(0.25):
                return
            try:
                conn.send(bytes([byte]))
            except OSError:
                return

    started = time.monotonic()
    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        if others is not None:
            time.sleep(0.3)
            for _ in range(2):
                others()
        received = _read_to_end(conn, resets=True)
        return received, time.monotonic() - started
    finally:
        stop.set()
        sender.join()
        if own:
            conn.close()


def _read_to_end(sock: socket.socket, *, resets: bool = False) -> bytes:
    """Everything the server sends until it closes; a reset ends it too when ``resets`` (a
    trickling sender may write after the close)."""
    parts = []
    while True:
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            if not resets:
                raise
            break
        if not part:
            break
        parts.append(part)
    return b"".join(parts)
