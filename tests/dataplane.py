"""An endpoint's data plane in-process: capture traffic without a server, for monitoring tests."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from driftloop.backends.local.registry import MlflowRegistry
from driftloop.capture.writer import CaptureWriter
from driftloop.config import Settings
from driftloop.serving.dataplane import DataPlane, Invocation
from driftloop.serving.live import ModelCache
from driftloop.serving.metrics import EndpointMetrics
from driftloop.serving.routing import build_table
from tests.workspaces import endpoint_store


def data_plane(settings: Settings, endpoint: str) -> DataPlane:
    """The endpoint's data plane, capturing every request to the workspace."""
    ws = settings.workspace
    table = build_table(endpoint_store(ws).get(endpoint), ModelCache(MlflowRegistry(ws)).load)
    capture = CaptureWriter(ws.capture, endpoint)
    return DataPlane(table, EndpointMetrics(endpoint, None), capture, max_rows=10_000, timeout_s=60)


def invoke_each(plane: DataPlane, records: list[dict[str, Any]], prefix: str) -> list[str]:
    """One request per record, with inference ids ``{prefix}-{n}``; closes the capture."""
    ids = [f"{prefix}-{n}" for n in range(len(records))]

    async def send_all() -> None:
        for inference_id, record in zip(ids, records, strict=True):
            body = orjson.dumps(record)
            await plane.invoke(Invocation(body, "application/json", inference_id=inference_id))

    asyncio.run(send_all())
    plane.capture.close()  # type: ignore[union-attr]
    return ids
