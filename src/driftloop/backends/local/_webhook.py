"""JSON POSTs to webhooks (SNS HTTP subscriptions, Slack incoming webhooks)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import orjson

TIMEOUT_S = 5.0


def redact(url: str) -> str:
    """``scheme://host`` of ``url``: webhook paths often hold secrets (Slack tokens)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..." if parts.path not in ("", "/") else url


def post_json(url: str, body: dict[str, Any], timeout_s: float = TIMEOUT_S) -> None:
    """POST ``body`` as JSON; raise ``OSError`` on a refused connection or a non-2xx answer."""
    request = urllib.request.Request(
        url,
        data=orjson.dumps(body),
        headers={"Content-Type": "application/json", "User-Agent": "driftloop"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        exc.close()  # its connection, now rather than when the error is collected
        raise OSError(f"{redact(url)} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OSError(f"{redact(url)} unreachable: {reason}") from exc
