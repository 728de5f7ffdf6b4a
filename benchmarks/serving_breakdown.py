"""Where a request's time goes, measured in-process on the benchmark's model: parse, predict,
encode, capture, metrics and the HTTP framework, for one row and for a batch; and the same
prediction through each alternative to the compiled fast path.

Each figure is the best of several repeats of a timed loop (microseconds per call), so another
process stealing the CPU for a moment does not show. HTTP parsing and the event loop's socket
work are not here: the wrk rows measure them (the floor server is nothing else).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import serving_predictors
from rich.console import Console
from rich.table import Table

from driftloop.capture.writer import CaptureWriter
from driftloop.config import load_settings
from driftloop.data import codecs
from driftloop.data.spec import TabularSpec
from driftloop.serving.app import ServerState, create_app
from driftloop.serving.dataplane import DataPlane, Invocation
from driftloop.serving.endpoint_config import Capture
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.models import ServedModel, load_registered
from driftloop.serving.routing import Route, RoutingTable

JSON = "application/json"
MAX_ROWS = 100_000
STAGES = ("parse", "predict", "encode", "capture", "metrics", "rest of invoke", "framework")


def _best_us(
    runs: dict[str, Callable[[int], None]], calls: int, repeats: int = 15
) -> dict[str, float]:
    """Microseconds per call of each run: the best of ``repeats`` timed loops, the runs taking
    turns within each repeat so that a busy spell of the machine hits them all alike."""
    best = dict.fromkeys(runs, float("inf"))
    for run in runs.values():
        run(max(calls // 10, 1))  # warm-up
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run(calls)
            best[name] = min(best[name], (time.perf_counter() - started) / calls * 1e6)
    return best


def _sync(call: Callable[[], object]) -> Callable[[int], None]:
    def run(calls: int) -> None:
        for _ in range(calls):
            call()

    return run


def _async(
    loop: asyncio.AbstractEventLoop, call: Callable[[], Awaitable[object]]
) -> Callable[[int], None]:
    async def many(calls: int) -> None:
        for _ in range(calls):
            await call()

    return lambda calls: loop.run_until_complete(many(calls))


def _asgi_call(app: Any, body: bytes) -> Callable[[], Awaitable[None]]:
    """One POST /invocations through ``app`` as uvicorn would make it, minus the socket."""
    headers = [
        (b"host", b"127.0.0.1:8080"),
        (b"content-type", JSON.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "POST",
        "root_path": "",
        "path": "/invocations",
        "raw_path": b"/invocations",
        "query_string": b"",
        "headers": headers,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"the app answered {message['status']}")

    return lambda: app({**scope, "state": {}}, receive, send)


class Breakdown:
    """The model loaded as `driftloop serve` loads it, and the data planes around it."""

    def __init__(self, workspace: Path, model_name: str, version: int) -> None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # as in each server worker
        settings = load_settings(home=workspace)
        from driftloop.backends.catalog import Backends

        self.registry = Backends.from_settings(settings).registry
        self.model = load_registered(self.registry, model_name, version)
        self.pipeline = self.registry.load_model(model_name, version)
        self.loop = asyncio.new_event_loop()
        self.folder = Path(tempfile.mkdtemp(prefix="driftloop-breakdown-"))

    def plane(self, capture: bool, model: ServedModel | None = None) -> DataPlane:
        model = model or self.model
        route = Route("AllTraffic", model, codecs.RowReader(model.spec))
        table = RoutingTable("bench", 1, (route,), Capture(enabled=capture, sampling_percent=100))
        writer = CaptureWriter(self.folder, "bench")
        metrics = EndpointMetrics("bench", None)
        return DataPlane(table, metrics, writer, max_rows=MAX_ROWS, timeout_s=60)

    def stages(self, body: bytes, calls: int) -> dict[str, float]:
        """Microseconds per call of each stage of one request carrying ``body``."""
        plain, captured = self.plane(False), self.plane(True)
        route = plain.table.routes[0]
        spec, predictor = route.model.spec, route.model.predictor
        batch = codecs.parse(body, JSON, spec, MAX_ROWS, route.reader)
        proba = predictor.predict_proba(batch)
        answer = plain._answer(route, proba, JSON)
        call = Invocation(body=body, content_type=JSON)
        table = captured.table

        def count() -> None:
            plain.metrics.unseen(route.name, predictor.unseen_counts(batch))
            plain.metrics.record(route.name, 200, model_us=50.0, total_us=90.0, model_error=False)

        figures = {
            "parse": _sync(lambda: codecs.parse(body, JSON, spec, MAX_ROWS, route.reader)),
            "predict": _sync(lambda: predictor.predict_proba(batch)),
            "encode": _sync(lambda: plain._answer(route, proba, JSON)),
            "capture": _sync(lambda: captured._capture(table, route.name, call, JSON, answer)),
            "metrics": _sync(count),
            "invoke": _async(self.loop, lambda: plain.invoke(call)),
            "invoke + capture": _async(self.loop, lambda: captured.invoke(call)),
            "app": _async(self.loop, _asgi_call(create_app(ServerState(plain)), body)),
        }
        us = _best_us(figures, calls)
        named = sum(us[s] for s in ("parse", "predict", "encode", "metrics"))
        us["rest of invoke"] = max(us["invoke"] - named, 0.0)
        us["framework"] = max(us["app"] - us["invoke"], 0.0)
        return us

    def predictor_us(
        self, kind: str, bodies: dict[str, bytes], spec: TabularSpec
    ) -> tuple[dict[str, float], float]:
        """Predict time per body for one predictor kind, and its largest gap to the pipeline."""
        predictor = serving_predictors.build(kind, self.pipeline, spec)
        oracle = serving_predictors.build("pipeline", self.pipeline, spec)
        us, gap = {}, 0.0
        for name, body in bodies.items():
            batch = codecs.parse(body, JSON, spec, MAX_ROWS)
            expected = oracle.predict_proba(batch)
            gap = max(gap, float(np.max(np.abs(predictor.predict_proba(batch) - expected))))
            calls = 20 if kind == "pipeline" else 1000 // max(batch.rows // 10, 1)
            run = _sync(lambda b=batch: predictor.predict_proba(b))
            us[name] = _best_us({name: run}, calls)[name]
        return us, gap


def report(console: Console, workspace: Path, model_name: str, version: int) -> None:
    """Print the stage table and the predictor table for the 1-row and 100-row bodies."""
    import _setup
    from serving import DEFAULT_CSV

    bodies = _setup.payloads(DEFAULT_CSV)
    bench = Breakdown(workspace, model_name, version)
    per_body = {
        name: bench.stages(body, 300 if name == "1 row" else 30) for name, body in bodies.items()
    }
    table = Table(
        title=f"In-process breakdown, {model_name} v{version} (us per request, best of 15)"
    )
    table.add_column("stage")
    for name in bodies:
        table.add_column(name, justify="right")
    for stage in (*STAGES, "invoke", "invoke + capture", "app"):
        table.add_row(stage, *(f"{per_body[name][stage]:,.1f}" for name in bodies))
    console.print(table)
    console.print(
        "  invoke = parse + predict + encode + metrics + rest (routing, timers, log context);"
        " app = invoke + framework (Starlette, headers, body read); capture is inside"
        " 'invoke + capture' only."
    )
    _predictor_table(console, bench, bodies)


def _predictor_table(console: Console, bench: Breakdown, bodies: dict[str, bytes]) -> None:
    table = Table(title="Prediction alone, same encoders, different tree runtimes (us per call)")
    for column in ("predictor", *bodies, "max |diff| vs scikit-learn", "note"):
        table.add_column(column, justify="left" if column in ("predictor", "note") else "right")
    spec = bench.model.spec
    for kind in serving_predictors.KINDS:
        try:
            us, gap = bench.predictor_us(kind, bodies, spec)
        except serving_predictors.NotApplicable as exc:
            table.add_row(kind, *("-" for _ in bodies), "-", f"not applicable: {exc}"[:160])
            continue
        note = "driftloop's fast path" if kind == "compiled" else ""
        table.add_row(kind, *(f"{us[name]:,.1f}" for name in bodies), f"{gap:.1e}", note)
    console.print(table)
