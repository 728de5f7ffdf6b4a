"""Logging is configured once, in one format, with the request context on every line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextvars import copy_context
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from driftloop.cli.main import _default_log_level
from driftloop.config import load_log_settings, load_settings
from driftloop.errors import ConfigError
from driftloop.logging import (
    JsonFormatter,
    StderrHandler,
    configure_logging,
    endpoint_var,
    inference_id_var,
    variant_var,
)
from driftloop.serving.app import ServerState, create_app
from driftloop.serving.dataplane import DataPlane
from driftloop.serving.metrics import EndpointMetrics
from tests.serving_fakes import Failing, route, table

LOGGERS = ("", "driftloop", "uvicorn", "uvicorn.access")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    saved = [(name, logging.getLogger(name)) for name in LOGGERS]
    state = [(lg, lg.level, list(lg.handlers), lg.propagate) for _, lg in saved]
    yield
    for logger, level, handlers, propagate in state:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, StderrHandler)]


def _log_in_request(message: str) -> None:
    def inside() -> None:
        endpoint_var.set("churn")
        variant_var.set("A")
        inference_id_var.set("req-7")
        logging.getLogger("driftloop.serving.dataplane").error(message)

    copy_context().run(inside)  # the variables stay set in that copy only


def test_configuring_twice_keeps_one_handler() -> None:
    configure_logging("INFO")
    configure_logging("DEBUG", "json")
    assert len(_ours()) == 1
    assert isinstance(_ours()[0].formatter, JsonFormatter)
    assert logging.getLogger("driftloop").level == logging.DEBUG
    assert logging.getLogger().level == logging.WARNING  # other libraries only warn


def test_text_line_carries_the_request_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    _log_in_request("model of variant A failed")
    logging.getLogger("driftloop.agent").info("agent stopped")
    inside, outside = capsys.readouterr().err.splitlines()
    assert inside.endswith(
        " ERROR driftloop.serving.dataplane "
        "[endpoint=churn variant=A inference_id=req-7] model of variant A failed"
    )
    assert outside.endswith(" INFO driftloop.agent agent stopped")


def test_json_line_carries_the_request_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    _log_in_request("model of variant A failed")
    logging.getLogger("driftloop.agent").info("agent stopped")
    inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert inside["endpoint"] == "churn" and inside["variant"] == "A"
    assert inside["inference_id"] == "req-7"
    assert inside["level"] == "ERROR" and inside["logger"] == "driftloop.serving.dataplane"
    assert inside["message"] == "model of variant A failed" and inside["time"].endswith("+00:00")
    assert set(outside) == {"time", "level", "logger", "message"}


def test_uvicorn_lines_go_through_the_same_handler() -> None:
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.addHandler(logging.StreamHandler())
    uvicorn.propagate = False
    configure_logging("INFO")
    assert uvicorn.handlers == [] and uvicorn.propagate


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_model_error_line_names_the_inference_id(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", fmt)
    tbl = table(route("A", Failing()))
    plane = DataPlane(tbl, EndpointMetrics(tbl.endpoint, None), None, max_rows=50, timeout_s=5.0)
    client = TestClient(create_app(ServerState(plane)), raise_server_exceptions=False)
    headers = {"X-Amzn-SageMaker-Inference-Id": "req-42"}
    response = client.post("/invocations", json={"x": 1, "y": 2, "c": "a"}, headers=headers)
    assert response.status_code == 500
    lines = [line for line in capsys.readouterr().err.splitlines() if "model of variant" in line]
    assert len(lines) == 1
    if fmt == "json":
        line = json.loads(lines[0])
        assert line["inference_id"] == "req-42" and line["endpoint"] == "fake-endpoint"
        assert line["variant"] == "A" and "model exploded" in line["exception"]
    else:
        assert "[endpoint=fake-endpoint variant=A inference_id=req-42]" in lines[0]


@pytest.mark.parametrize(
    ("args", "level"),
    [
        (["serve", "churn"], "INFO"),
        (["-c", "my.toml", "agent"], "INFO"),
        (["--config=my.toml", "monitor", "schedule", "-e", "churn"], "INFO"),
        (["monitor", "run", "-e", "churn"], "WARNING"),
        (["demo"], "WARNING"),
        ([], "WARNING"),
    ],
)
def test_commands_that_run_until_stopped_log_at_info(args: list[str], level: str) -> None:
    assert _default_log_level(args) == level


def test_log_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRIFTLOOP_LOG_FORMAT", "json")
    monkeypatch.setenv("DRIFTLOOP_LOG_LEVEL", "DEBUG")
    logs = load_log_settings()
    assert (logs.level, logs.format) == ("DEBUG", "json")
    load_settings()  # not an unknown key for the other settings
    monkeypatch.setenv("DRIFTLOOP_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="DRIFTLOOP_LOG_FORMAT"):
        load_log_settings()
