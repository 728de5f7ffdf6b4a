"""Run the console with uvicorn, refusing a non-loopback address without an API key."""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
import time

from driftloop.config import Settings
from driftloop.console.app import create_app
from driftloop.console.view import LoopView
from driftloop.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8090


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def check_console_bind(host: str, api_key: str | None) -> None:
    """:class:`ConfigError` for a non-loopback ``host`` without an API key."""
    if api_key is None and not is_loopback(host):
        raise ConfigError(
            f"console address '{host}' is not a loopback address: set serving.api_key "
            "(DRIFTLOOP_SERVING__API_KEY) to open the console beyond this machine"
        )


def run_console(
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    poll_s: float = 3.0,
    endpoint_url: str | None = None,
    stop_with: int | None = None,
) -> None:
    """Serve the console until SIGTERM or Ctrl-C (or, with ``stop_with``, until that process
    ends: the demo ties its console to its endpoint)."""
    import uvicorn

    secret = settings.serving.api_key
    api_key = secret.get_secret_value() if secret else None
    check_console_bind(host, api_key)
    view = LoopView(settings, refresh_s=min(poll_s, 2.0))
    if stop_with is not None:
        threading.Thread(
            target=_stop_with, args=(stop_with,), name="stop-with", daemon=True
        ).start()
    app = create_app(view, api_key=api_key, poll_s=poll_s, endpoint_url=endpoint_url)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)


def _stop_with(pid: int, every_s: float = 1.0) -> None:
    """SIGTERM this process (uvicorn then stops gracefully) once process ``pid`` is gone."""
    while True:
        try:
            os.kill(pid, 0)  # signal 0 only checks that the process exists
        except ProcessLookupError:
            break
        except PermissionError:
            pass  # it exists, owned by someone else
        time.sleep(every_s)
    os.kill(os.getpid(), signal.SIGTERM)
