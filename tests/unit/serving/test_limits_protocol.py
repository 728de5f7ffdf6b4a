"""The connection protocol in-process on a loopback socket, with deadlines and linger bounds
short enough to watch: 408s, silent closes, a lingering close after an early answer, and its
bounds."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.server import ServerState

from driftloop.serving import lingering
from driftloop.serving import protocol as protocol_module
from driftloop.serving.protocol import Deadlines, HttpProtocol

DEADLINE_S = 0.4


async def _echo(request: Request) -> Response:
    return Response(await request.body())


async def _late_reader(request: Request) -> Response:
    await asyncio.sleep(DEADLINE_S * 2.5)  # as a worker still loading its model
    return Response(str(len(await request.body())))


async def _refuse(_: Request) -> Response:  # answers before reading the body, as a 413 does
    return JSONResponse({"error": {"code": "payload_too_large"}}, status_code=413)


APP = Starlette(
    routes=[
        Route("/echo", _echo, methods=["POST"]),
        Route("/no", _refuse, methods=["POST"]),
        Route("/late", _late_reader, methods=["POST"]),
    ]
)


def _served(client: Callable[[int], Any]) -> Any:
    """Run ``client(port)`` in a thread against the protocol serving APP; its result."""

    async def main() -> Any:
        config = uvicorn.Config(APP, lifespan="off", log_level="warning")
        config.load()
        state = ServerState()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: HttpProtocol(config=config, server_state=state, app_state={}), "127.0.0.1", 0
        )
        port = server.sockets[0].getsockname()[1]
        try:
            return await asyncio.to_thread(client, port)
        finally:
            server.close()
            for connection in list(state.connections):
                connection.shutdown()

    return asyncio.run(main())


@pytest.fixture(autouse=True)
def short_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol_module, "_deadlines", Deadlines(DEADLINE_S, DEADLINE_S))


def _read_all(sock: socket.socket) -> bytes:
    parts = []
    while part := sock.recv(65536):
        parts.append(part)
    return b"".join(parts)


def _response(sock: socket.socket) -> bytes:
    """One whole answer on a kept-alive connection (headers, then content-length bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    size = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < size:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _timed(port: int, send: bytes) -> tuple[bytes, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(send)
        return _read_all(sock), time.monotonic() - started


def test_keep_alive_requests_pass_untouched() -> None:
    def client(port: int) -> list[bytes]:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            answers = []
            for body in (b"abc", b"defg"):
                head = f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
                sock.sendall(head.encode() + body)
                time.sleep(DEADLINE_S * 1.5)  # idle between requests is keep-alive's business
                answers.append(_response(sock))
            return answers

    first, second = _served(client)
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"abc")
    assert second.startswith(b"HTTP/1.1 200") and second.endswith(b"defg")


def test_a_body_in_pieces_within_the_deadline_keeps_the_connection() -> None:
    def client(port: int) -> list[bytes]:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
            time.sleep(DEADLINE_S / 2)
            sock.sendall(b"def")
            first = _response(sock)
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\ngh")
            return [first, _response(sock)]

    first, second = _served(client)
    assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"abcdef")
    assert b"connection: close" not in first
    assert second.startswith(b"HTTP/1.1 200") and second.endswith(b"gh")


def test_pipelined_requests_are_all_answered() -> None:
    one = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n"
    last = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz"
    received, _ = _served(lambda port: _timed(port, one + b"x" + one + b"y" + last))
    assert received.count(b"HTTP/1.1 200") == 3
    assert (
        received.index(b"\r\n\r\nx") < received.index(b"\r\n\r\ny") < received.index(b"\r\n\r\nz")
    )


def test_partial_headers_get_a_408_at_the_deadline() -> None:
    received, took = _served(lambda port: _timed(port, b"POST /echo HTTP/1.1\r\nHost: x\r\n"))
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout")
    assert b"connection: close" in head and b"x-amzn-ErrorType: ValidationError" in head
    assert orjson.loads(body)["error"]["code"] == "request_timeout"
    assert DEADLINE_S <= took < DEADLINE_S + 1


def test_a_silent_connection_is_closed_without_an_answer() -> None:
    received, took = _served(lambda port: _timed(port, b""))
    assert received == b"" and DEADLINE_S <= took < DEADLINE_S + 1


def test_a_partial_body_gets_a_408_and_the_app_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="driftloop.serving")  # whatever an earlier test left
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"
    received, took = _served(lambda port: _timed(port, head))
    assert received.startswith(b"HTTP/1.1 408 ") and b"body" in received
    assert DEADLINE_S <= took < DEADLINE_S + 1
    assert "Exception in ASGI application" not in caplog.text
    assert "left before sending the whole request body" in caplog.text


def test_a_body_sent_in_time_to_an_app_slow_to_read_it_is_not_cut() -> None:
    size = 1024 * 1024  # past the protocol's buffer: reading pauses until the app reads

    def client(port: int) -> bytes:
        head = f"POST /late HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {size}"
        return _timed(port, head.encode() + b"\r\n\r\n" + b"1" * size)[0]

    received = _served(client)
    assert received.startswith(b"HTTP/1.1 200 ") and received.endswith(str(size).encode())


def test_an_early_answer_reaches_a_client_that_sends_everything_first() -> None:
    size = 8 * 1024 * 1024  # far more than the socket buffers hold

    def client(port: int) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            head = f"POST /no HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {size}"
            sock.sendall(head.encode() + b"\r\n\r\n" + b"1" * size)  # no reset on the way
            return _read_all(sock)

    received = _served(client)
    assert received.startswith(b"HTTP/1.1 413 ") and b"connection: close" in received
    assert received.endswith(b'{"error":{"code":"payload_too_large"}}')


def test_lingering_ends_after_a_quiet_spell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lingering, "LINGER_QUIET_S", 0.3)

    def client(port: int) -> tuple[bytes, float]:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"POST /no HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
            answer = _read_all(sock)  # the 413, then the server's FIN (a half-close)
            started = time.monotonic()
            sock.sendall(b"c")  # the server still reads: no reset yet
            time.sleep(0.6)
            with pytest.raises(OSError):  # quiet for longer than 0.3 s: closed
                for _ in range(50):
                    sock.sendall(b"d" * 65536)
                    time.sleep(0.01)
            return answer, time.monotonic() - started

    answer, took = _served(client)
    assert answer.startswith(b"HTTP/1.1 413 ") and took < 2


def test_lingering_stops_at_its_time_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lingering, "LINGER_MAX_S", 0.5)

    def client(port: int) -> float:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"POST /no HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
            started = time.monotonic()
            with pytest.raises(OSError):  # a client that never stops is cut off
                while time.monotonic() - started < 5:
                    sock.sendall(b"1" * 65536)
                    time.sleep(0.005)
            return time.monotonic() - started

    assert 0.4 < _served(client) < 3


def test_lingering_stops_at_its_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lingering, "LINGER_MAX_BYTES", 1024 * 1024)

    def client(port: int) -> int:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"POST /no HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
            sent = 0
            with pytest.raises(OSError):  # cut off after about a megabyte, well before 30 s
                while sent < 200 * 1024 * 1024:
                    sock.sendall(b"1" * 65536)
                    sent += 65536
            return sent

    assert _served(client) < 20 * 1024 * 1024
