"""Run an endpoint on uvicorn: worker processes, model loading, config watching, metric flushes.

``driftloop serve NAME`` serves a workspace endpoint. In SageMaker container mode (``serve`` with
no name, the model in ``/opt/ml/model`` or ``SM_MODEL_DIR``) it serves that one model on 8080.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from driftloop.backends.catalog import Backends
from driftloop.capture.writer import CaptureWriter
from driftloop.config import Settings, load_log_settings, load_settings
from driftloop.data.codecs import RowReader
from driftloop.errors import ConfigError
from driftloop.logging import configure_logging
from driftloop.serving.app import LabelSink, ServerState, create_app
from driftloop.serving.dataplane import DataPlane
from driftloop.serving.endpoint_config import Capture
from driftloop.serving.live import ConfigWatcher, ModelCache
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.models import check_references, load_model_dir
from driftloop.serving.protocol import Deadlines, use_deadlines
from driftloop.serving.routing import Route, RoutingTable, build_table
from driftloop.serving.tls import tls_options

log = logging.getLogger("driftloop.serving")
SAGEMAKER_MODEL_DIR = Path("/opt/ml/model")
SAGEMAKER_VARIANT = "AllTraffic"
# uvicorn kills a worker that has not answered its supervisor within this (default 5 s); a
# worker's start (imports, a cold disk, a busy host) can take longer than 5 s.
WORKER_HEALTHCHECK_S = 30


def sagemaker_model_dir() -> Path | None:
    """The container's model directory when running as a SageMaker container, else None."""
    env = os.environ.get("SM_MODEL_DIR")
    if env:
        return Path(env)
    return SAGEMAKER_MODEL_DIR if SAGEMAKER_MODEL_DIR.is_dir() else None


def check_bind(host: str, api_key: str | None, *, container: bool) -> None:
    """Refuse a non-loopback bind without an API key (a SageMaker container's network aside),
    with or without TLS: TLS hides the traffic, only the key says who may call."""
    if api_key or container:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConfigError(
            f"serving.host '{host}' is not a loopback address: set serving.api_key "
            "(DRIFTLOOP_SERVING__API_KEY) to serve beyond this machine"
        )


def _limit_threads() -> None:
    # One OpenMP thread per worker: several threads per one-row request only contend.
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _container_plane(settings: Settings, model_dir: Path) -> DataPlane:
    model = load_model_dir(model_dir)
    route = Route(SAGEMAKER_VARIANT, model, RowReader(model.spec))
    table = RoutingTable("default", 0, (route,), Capture(enabled=False))
    max_rows, timeout_s = _limits(settings)
    metrics = EndpointMetrics("default", None)
    return DataPlane(table, metrics, None, max_rows=max_rows, timeout_s=timeout_s)


def _endpoint_plane(settings: Settings, endpoint: str) -> tuple[DataPlane, ModelCache]:
    ws = settings.workspace
    stores = Backends.from_settings(settings)
    cache = ModelCache(stores.registry)
    table = build_table(stores.endpoints.get(endpoint), cache.load)
    metrics = EndpointMetrics(endpoint, stores.metrics)
    writer = CaptureWriter(ws.capture, endpoint, events=stores.events)
    max_rows, timeout_s = _limits(settings)
    plane = DataPlane(table, metrics, writer, max_rows=max_rows, timeout_s=timeout_s)
    return plane, cache


def _limits(settings: Settings) -> tuple[int, float]:
    """``max_rows`` and ``timeout_s`` of a data plane."""
    return settings.serving.max_rows, settings.serving.request_timeout.total_seconds()


def build_app(settings: Settings) -> Starlette:
    """The app of one worker; models load in the background so /ping can say 503 meanwhile."""
    state = ServerState()
    cfg = settings.serving

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        _limit_threads()
        tasks = [asyncio.create_task(_start(state, settings))]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if state.plane is not None:
                await asyncio.to_thread(state.plane.metrics.flush)
                if state.plane.capture is not None:
                    state.plane.capture.close()

    key = cfg.api_key.get_secret_value() if cfg.api_key else None
    max_body = int(cfg.max_payload_mb * 1024 * 1024)
    return create_app(
        state,
        api_key=key,
        max_body_bytes=max_body,
        lifespan=lifespan,
        load_wait_s=cfg.request_timeout.total_seconds(),
        labels=_label_sink(settings, state) if cfg.model_dir is None else None,
    )


def _label_sink(settings: Settings, state: ServerState) -> LabelSink:
    """POST /labels: store ground truth for this endpoint, checked against its model's spec."""
    stores = Backends.from_settings(settings)  # the label store is built on first use

    def store(records: list[dict[str, Any]]) -> dict[str, Any]:
        if state.plane is None:
            raise ConfigError("the endpoint is still loading")
        spec = state.plane.table.routes[0].model.spec
        result = stores.labels.put_records(state.plane.endpoint, records, spec)
        return result.to_dict()

    return store


async def _start(state: ServerState, settings: Settings) -> None:
    cfg = settings.serving
    cache = None
    try:
        if cfg.model_dir is not None:
            plane = await asyncio.to_thread(_container_plane, settings, cfg.model_dir)
        else:
            plane, cache = await asyncio.to_thread(_endpoint_plane, settings, cfg.endpoint or "")
    except Exception as exc:
        log.exception("endpoint failed to load; /ping stays 503")
        state.failed(getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
        return
    state.ready(plane)
    log.info("endpoint %s ready: %s", plane.endpoint, plane.table.versions())
    background = [_flush_loop(plane, cfg.metrics_flush.total_seconds())]
    if cache is not None:
        store = Backends.from_settings(settings).endpoints
        background.append(ConfigWatcher(plane, store, cache, cfg.config_poll.total_seconds()).run())
    await asyncio.gather(*background)


async def _flush_loop(plane: DataPlane, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(plane.metrics.flush)
        except Exception:
            log.exception("metric flush failed; its datapoints are kept and sent with the next one")


def app_factory() -> Starlette:
    """uvicorn's factory in each worker process: settings come from the environment."""
    logs = load_log_settings()
    configure_logging(logs.level or "INFO", logs.format)
    settings = load_settings()
    use_deadlines(_deadlines(settings))
    return build_app(settings)


def _deadlines(settings: Settings) -> Deadlines:
    cfg = settings.serving
    return Deadlines(cfg.header_timeout.total_seconds(), cfg.body_timeout.total_seconds())


def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT: in-flight requests are answered before workers stop."""
    import uvicorn

    cfg = settings.serving
    key = cfg.api_key.get_secret_value() if cfg.api_key else None
    check_bind(cfg.host, key, container=cfg.model_dir is not None)
    tls = tls_options(cfg)
    if cfg.model_dir is None:  # fail now, not in a worker
        stores = Backends.from_settings(settings)
        check_references(stores.registry, stores.endpoints.get(cfg.endpoint or ""))
    env = {"DRIFTLOOP_HOME": str(settings.home.resolve()), "OMP_NUM_THREADS": "1"}
    if cfg.endpoint:
        env["DRIFTLOOP_SERVING__ENDPOINT"] = cfg.endpoint
    if cfg.model_dir is not None:
        env["DRIFTLOOP_SERVING__MODEL_DIR"] = str(cfg.model_dir.resolve())
    prometheus_dir = tempfile.mkdtemp(prefix="driftloop-prometheus-")
    if cfg.workers > 1:  # workers share counters through files in this folder
        env["PROMETHEUS_MULTIPROC_DIR"] = prometheus_dir
    os.environ.update(env)
    try:
        uvicorn.run(
            "driftloop.serving.server:app_factory",
            factory=True,
            host=cfg.host,
            port=cfg.port,
            workers=cfg.workers,
            http="driftloop.serving.protocol:HttpProtocol",  # deadlines, lingering close
            **tls,
            timeout_graceful_shutdown=round(cfg.graceful_timeout.total_seconds()),
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
            log_level="warning",
            access_log=False,
            log_config=None,  # uvicorn's lines go through driftloop's handler
        )
    finally:
        shutil.rmtree(prometheus_dir, ignore_errors=True)
