"""The HTTP/1.1 connection: uvicorn's httptools protocol, held to deadlines and closed gently.

- **Slow clients.** A request's headers must arrive within ``header_timeout`` of its first byte
  (of the connection's start for a new connection), and its body within ``body_timeout`` of the
  moment the app starts on it (a deadline passing while the app has not taken the bytes that
  arrived starts again): whole-phase deadlines, as Go's ``ReadHeaderTimeout`` and Node's
  ``headersTimeout``/``requestTimeout``, so a client sending one byte a second cannot stretch
  them. A client past a deadline is answered 408 with the error envelope (a connection that
  sent nothing is closed silently) and the connection closes.
- **Early answers.** An answer sent before the request's body has arrived (413 from
  Content-Length, 401) carries ``connection: close``, and the close lingers: the server
  half-closes (FIN after the answer), reads and discards what the client still sends for at
  most ``LINGER_MAX_S`` (``LINGER_QUIET_S`` without data ends it sooner), then closes. Closing
  with unread bytes makes the kernel send a reset, and a client still sending (Python's urllib)
  would lose the answer. nginx's ``lingering_close`` does the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from driftloop.serving.lingering import LingeringTransport

log = logging.getLogger("driftloop.serving")
CLOSE = (b"connection", b"close")


@dataclass(frozen=True)
class Deadlines:
    """How long a request's headers and body may take to arrive, in seconds."""

    header_s: float = 10.0
    body_s: float = 60.0


_deadlines = Deadlines()


def use_deadlines(deadlines: Deadlines) -> None:
    """Set this worker's deadlines (the app factory does, from the settings it read)."""
    global _deadlines
    _deadlines = deadlines


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body deadlines and a lingering close."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadlines = _deadlines
        self._timer: asyncio.TimerHandle | None = None
        self._begun = False  # a request's first byte arrived, its headers not yet all
        self._conn: LingeringTransport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._conn = LingeringTransport(transport, self._linger_instead)
        super().connection_made(self._conn)
        self._arm(self._deadlines.header_s, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._conn is not None and self._conn.lingering:
            self._conn.discarded(len(data))
        else:
            super().data_received(data)

    def eof_received(self) -> None:
        if self._conn is not None and self._conn.lingering:
            self._conn.close()  # the client is done sending: the linger is over

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if self._timer is None:
            self._arm(self._deadlines.header_s, self._headers_late)

    def on_headers_complete(self) -> None:
        self._begun = False
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.cycle is not None and not self.cycle.more_body:
            self._disarm()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        if cycle.more_body:
            self._arm(self._deadlines.body_s, lambda: self._body_late(cycle))
        super()._start_asgi_task(cycle, _guarded(cycle, app))

    def _linger_instead(self) -> bool:
        """Whether a close should linger: the request's body is still arriving (an early
        answer). The deadlines stop; lingering has its own bounds."""
        if self.cycle is None or not self.cycle.more_body:
            return False
        self._disarm()
        return True

    def _arm(self, delay_s: float, callback: Callable[[], None]) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay_s, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined request waits for the one before it: its deadline starts again.
            self._arm(self._deadlines.header_s, self._headers_late)
        elif self._begun:
            self._time_out("headers", self._deadlines.header_s)
        else:
            self._close_now()

    def _body_late(self, cycle: RequestResponseCycle) -> None:
        self._timer = None
        if self.flow.read_paused and cycle is self.cycle:
            # The app has not taken what arrived (a model still loading): not the client's
            # delay, so the deadline starts again.
            self._arm(self._deadlines.body_s, lambda: self._body_late(cycle))
        elif cycle is self.cycle and cycle.more_body and not cycle.response_started:
            self._time_out("body", self._deadlines.body_s)
        elif cycle.more_body:
            self._close_now()

    def _time_out(self, part: str, limit_s: float) -> None:
        message = f"the request's {part} did not arrive within {limit_s:g} s"
        log.info("client %s: %s; closing", self.client, message)
        self._real().write(_timeout_answer(message, self.server_state.default_headers))
        self._close_now()

    def _close_now(self) -> None:
        self._real().close()

    def _real(self) -> asyncio.Transport:
        return self._conn.real if self._conn is not None else self.transport


def _guarded(cycle: RequestResponseCycle, app: ASGI3Application) -> ASGI3Application:
    """The app with ``connection: close`` on an answer sent before the body arrived, and quiet
    about the client disconnect that follows a deadline (or a client leaving mid-body)."""

    async def guarded(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        async def closing_send(message: Any) -> None:
            if message["type"] == "http.response.start" and cycle.more_body:
                headers = list(message.get("headers", []))
                if CLOSE not in headers:
                    message = {**message, "headers": [*headers, CLOSE]}
            await send(message)

        try:
            await app(scope, receive, closing_send)
        except ClientDisconnect:
            if not cycle.disconnected:
                raise
            log.info("client left before sending the whole request body")

    return guarded


def _timeout_answer(message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = orjson.dumps(
        {
            "error": {"code": "request_timeout", "message": message, "details": {}},
            "message": message,
        }
    )
    head = [b"HTTP/1.1 408 Request Timeout"]
    head += [name + b": " + value for name, value in default_headers]
    head += [
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"x-amzn-ErrorType: ValidationError",
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body
