"""Logging, configured once by each entry point: one format, optional JSON lines, and the
endpoint, variant and inference id of the request being handled on every line.

Library modules only call ``logging.getLogger(__name__)``. Entry points (the CLI's ``main`` and
the server's worker factory) call :func:`configure_logging`. The data plane sets the context
variables below while it handles a request; a filter on the handler stamps them on each record.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

endpoint_var: ContextVar[str | None] = ContextVar("driftloop_endpoint", default=None)
variant_var: ContextVar[str | None] = ContextVar("driftloop_variant", default=None)
inference_id_var: ContextVar[str | None] = ContextVar("driftloop_inference_id", default=None)

CONTEXT_FIELDS = ("endpoint", "variant", "inference_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(context)s%(message)s"
# uvicorn's own log config gives these loggers their own handlers and format.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class ContextFilter(logging.Filter):
    """Stamps the request context on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.endpoint = endpoint_var.get()
        record.variant = variant_var.get()
        record.inference_id = inference_id_var.get()
        return True


def _context(record: logging.LogRecord) -> dict[str, Any]:
    found = ((key, getattr(record, key, None)) for key in CONTEXT_FIELDS)
    return {key: value for key, value in found if value is not None}


class TextFormatter(logging.Formatter):
    """``time level logger [endpoint=.. variant=.. inference_id=..] message``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{key}={value}" for key, value in _context(record).items())
        record.context = f"[{fields}] " if fields else ""
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context and any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        doc: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = self.formatStack(record.stack_info)
        return json.dumps(doc, default=str)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is when a line is logged (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(ContextFilter())

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


def configure_logging(level: str | int = "INFO", fmt: str = "text") -> None:
    """Send every log line to stderr in one format. Calling it again changes the level and
    format of the same handler; it never adds a second one.

    ``level`` applies to driftloop's loggers; other libraries report warnings only.
    """
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler()
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.setLevel(logging.WARNING)
    logging.getLogger("driftloop").setLevel(level)
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if logger.handlers:  # uvicorn's own handler: lines go through ours instead
            logger.handlers.clear()
            logger.propagate = True
