"""A transport whose close, while the client is still sending, lingers instead of resetting.

Closing a socket with unread bytes in it makes the kernel answer with a reset (RST), and the
client may lose the answer it has not read yet. Lingering: send FIN after the answer
(half-close, where the transport can), read and discard what arrives for at most
``LINGER_MAX_S`` (ending sooner after ``LINGER_QUIET_S`` without data, at the client's FIN,
or past ``LINGER_MAX_BYTES``), then close.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

LINGER_MAX_S = 30.0  # nginx's lingering_time
LINGER_QUIET_S = 5.0  # nginx's lingering_timeout
LINGER_MAX_BYTES = 256 * 1024 * 1024


class LingeringTransport(asyncio.Transport):
    """Wraps the connection's transport; ``close()`` lingers when ``wants_linger()`` says so.

    The protocol feeds :meth:`discarded` with what arrives while :attr:`lingering`."""

    def __init__(self, real: asyncio.Transport, wants_linger: Callable[[], bool]) -> None:
        super().__init__()
        self.real = real
        self.lingering = False
        self._wants_linger = wants_linger
        self._loop = asyncio.get_running_loop()
        self._end = 0.0
        self._left = LINGER_MAX_BYTES
        self._timer: asyncio.TimerHandle | None = None

    def close(self) -> None:
        if self.lingering or self.real.is_closing() or not self._wants_linger():
            self._stop()
            return
        self.lingering = True
        self._end = self._loop.time() + LINGER_MAX_S
        if self.real.can_write_eof():
            self.real.write_eof()  # sent once the answer is flushed
        self.real.resume_reading()
        self._wait(LINGER_QUIET_S)

    def discarded(self, size: int) -> None:
        """``size`` bytes arrived while lingering and were dropped."""
        self._left -= size
        if self._left <= 0:
            self._stop()
        else:
            self._wait(LINGER_QUIET_S)

    def _wait(self, quiet_s: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = min(quiet_s, self._end - self._loop.time())
        self._timer = self._loop.call_later(max(delay, 0.0), self._stop)

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.real.close()

    def is_closing(self) -> bool:
        return self.lingering or self.real.is_closing()

    # The rest is the real transport's.
    def write(self, data: bytes | bytearray | memoryview[Any]) -> None:
        self.real.write(data)

    def writelines(self, list_of_data: Any) -> None:
        self.real.writelines(list_of_data)

    def write_eof(self) -> None:
        self.real.write_eof()

    def can_write_eof(self) -> bool:
        return self.real.can_write_eof()

    def abort(self) -> None:
        self.real.abort()

    def pause_reading(self) -> None:
        if not self.lingering:
            self.real.pause_reading()

    def resume_reading(self) -> None:
        self.real.resume_reading()

    def is_reading(self) -> bool:
        return self.real.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.real.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.real.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.real.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self.real.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.real.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.real.set_write_buffer_limits(high, low)
