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
import math
import weakref
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from driftloop.errors import ClientTimeout
from driftloop.serving.lingering import LingeringTransport

log = logging.getLogger("driftloop.serving")
TICK_S = 0.2  # how often a worker looks for connections past their deadline


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
    """uvicorn's httptools protocol with header and body deadlines and a lingering close.

    A request costs a few attribute writes: deadlines are timestamps, and one sweep per event
    loop (:class:`_Sweeper`) expires them, instead of a timer per request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = _quiet_disconnects(self.app)
        self._deadlines = _deadlines
        self.due = math.inf  # when the phase below expires (the loop's clock)
        self._phase = ""  # "headers", "body" or "" (none running)
        self._begun = False  # a request's first byte arrived, its headers not yet all
        self._reading: RequestResponseCycle | None = None  # the cycle whose body is awaited
        self._keep_alive = True  # that cycle's own keep-alive, while its body arrives
        self._stopping = False
        self._conn: LingeringTransport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._conn = LingeringTransport(transport, self._linger_instead)
        super().connection_made(self._conn)
        _Sweeper.of(self.loop).add(self)
        self._wait("headers", self._deadlines.header_s)

    def connection_lost(self, exc: Exception | None) -> None:
        _Sweeper.of(self.loop).live.discard(self)
        self._phase, self.due = "", math.inf
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._conn is not None and self._conn.lingering:
            self._conn.discarded(len(data))
        else:
            super().data_received(data)

    def eof_received(self) -> None:
        if self._conn is not None and self._conn.lingering:
            self._conn.close()  # the client is done sending: the linger is over

    def shutdown(self) -> None:
        self._stopping = True
        super().shutdown()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if not self._phase:
            self._wait("headers", self._deadlines.header_s)

    def on_headers_complete(self) -> None:
        self._begun = False
        self._phase, self.due = "", math.inf
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        cycle = self._reading
        if cycle is not None and cycle is self.cycle:
            cycle.keep_alive = self._keep_alive and not self._stopping
            self._reading = None
            self._phase, self.due = "", math.inf

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        if cycle.more_body:
            # Until the body is in, an answer (a 413 from Content-Length) closes the
            # connection: uvicorn then says so in the answer and closes, which lingers.
            self._reading, self._keep_alive = cycle, cycle.keep_alive
            cycle.keep_alive = False
            self._wait("body", self._deadlines.body_s)
        super()._start_asgi_task(cycle, app)

    def _linger_instead(self) -> bool:
        """Whether a close should linger: the request's body is still arriving (an early
        answer). The deadlines stop; lingering has its own bounds."""
        if self.cycle is None or not self.cycle.more_body:
            return False
        self._phase, self.due = "", math.inf
        return True

    def _wait(self, phase: str, limit_s: float) -> None:
        self._phase, self.due = phase, self.loop.time() + limit_s

    def expire(self) -> None:
        """The sweep found this connection past its deadline."""
        phase, self._phase, self.due = self._phase, "", math.inf
        if phase == "headers":
            if self.cycle is not None and not self.cycle.response_complete:
                # A pipelined request waits for the one before it: its deadline starts again.
                self._wait("headers", self._deadlines.header_s)
            elif self._begun:
                self._time_out("headers", self._deadlines.header_s)
            else:
                self._close_now()  # it sent nothing
        elif phase == "body" and self._reading is not None:
            if self.flow.read_paused:
                # The app has not taken what arrived (a model still loading): not the
                # client's delay, so the deadline starts again.
                self._wait("body", self._deadlines.body_s)
            elif not self._reading.response_started:
                self._time_out("body", self._deadlines.body_s)
            else:
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


class _Sweeper:
    """One per event loop: every ``TICK_S`` while connections are open, expires those past
    their deadline."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.live: set[HttpProtocol] = set()
        self.ticking = False

    @staticmethod
    def of(loop: asyncio.AbstractEventLoop) -> _Sweeper:
        sweeper = _SWEEPERS.get(loop)
        if sweeper is None:
            sweeper = _SWEEPERS[loop] = _Sweeper(loop)
        return sweeper

    def add(self, connection: HttpProtocol) -> None:
        self.live.add(connection)
        if not self.ticking:
            self.ticking = True
            self.loop.call_later(TICK_S, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        for connection in [c for c in self.live if c.due <= now]:
            connection.expire()
        self.ticking = bool(self.live)
        if self.ticking:
            self.loop.call_later(TICK_S, self._tick)


_SWEEPERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sweeper] = (
    weakref.WeakKeyDictionary()
)


def _quiet_disconnects(app: ASGI3Application) -> ASGI3Application:
    """The app, with a client gone mid-body (or cut at its deadline) one log line, not a
    traceback: nothing went wrong in the server."""

    async def quiet(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        try:
            await app(scope, receive, send)
        except ClientDisconnect:
            log.info("client left before sending the whole request body")

    return quiet


def _timeout_answer(message: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = orjson.dumps(
        {
            "error": {"code": ClientTimeout.code, "message": message, "details": {}},
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
