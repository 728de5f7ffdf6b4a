"""The HTTP layer: SageMaker's container contract and runtime API path, over the data plane.

Routes only translate HTTP. Every error leaves through one envelope,
``{"error": {"code", "message", "details"}}``, with boto3's ``x-amzn-ErrorType`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from driftloop.errors import (
    DataError,
    DriftloopError,
    NotFoundError,
    NotReady,
    PayloadTooLarge,
    Unauthorized,
)
from driftloop.serving.dataplane import DataPlane, Invocation
from driftloop.serving.metrics import prometheus_text

LabelSink = Callable[[list[dict[str, Any]]], dict[str, Any]]


class ServerState:
    """What the routes read: the data plane once models are loaded (None before)."""

    def __init__(self, plane: DataPlane | None = None) -> None:
        self.plane = plane
        self.error: str | None = None  # why loading failed
        self.settled = asyncio.Event()  # set once loading succeeded or failed
        if plane is not None:
            self.settled.set()

    def ready(self, plane: DataPlane) -> None:
        self.plane = plane
        self.settled.set()

    def failed(self, reason: str) -> None:
        self.error = reason
        self.settled.set()

    def not_ready(self) -> str:
        """Why no model is loaded."""
        if self.error is not None:
            return f"the endpoint's models failed to load: {self.error}"
        return "the endpoint is still loading its models"


def create_app(
    state: ServerState,
    *,
    api_key: str | None = None,
    max_body_bytes: int = 6 * 1024 * 1024,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Any]] | None = None,
    load_wait_s: float = 60.0,
    labels: LabelSink | None = None,
) -> Starlette:
    """The ASGI app. ``state.plane`` may be filled later: ``/ping`` answers 503 until then, and
    an invocation reaching a worker that is still loading waits for it (up to ``load_wait_s``)
    instead of failing, so no request is lost while workers start.
    """

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
            raise Unauthorized("missing or wrong API key (send 'Authorization: Bearer <key>')")

    async def plane() -> DataPlane:
        if state.plane is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.settled.wait(), load_wait_s)
        if state.plane is None:
            raise NotReady(state.not_ready())
        return state.plane

    async def ping(request: Request) -> Response:
        if state.plane is not None:
            return Response(status_code=200)
        return await _error_response(request, NotReady(state.not_ready()))

    async def invocations(request: Request) -> Response:
        authorize(request)
        current = await plane()
        name = request.path_params.get("name")
        if name is not None and name != current.endpoint:
            raise NotFoundError(f"endpoint '{name}' is not served here", details={"endpoint": name})
        headers = request.headers
        call = Invocation(
            body=await _read_body(request, max_body_bytes),
            content_type=headers.get("content-type"),
            accept=headers.get("accept"),
            target_variant=headers.get("x-amzn-sagemaker-target-variant"),
            inference_id=headers.get("x-amzn-sagemaker-inference-id"),
            custom_attributes=headers.get("x-amzn-sagemaker-custom-attributes"),
        )
        answer = await current.invoke(call)
        out = {
            "x-Amzn-Invoked-Production-Variant": answer.variant,
            "x-driftloop-model-version": answer.model_version,
        }
        if call.custom_attributes:
            out["X-Amzn-SageMaker-Custom-Attributes"] = call.custom_attributes
        shadow = BackgroundTask(current.shadow, call) if current.wants_shadow() else None
        return Response(answer.body, media_type=answer.content_type, headers=out, background=shadow)

    async def post_labels(request: Request) -> Response:
        authorize(request)
        if labels is None:
            raise NotFoundError("this server does not take labels (no workspace endpoint)")
        records = _label_records(await _read_body(request, max_body_bytes))
        stored = await asyncio.to_thread(labels, records)
        return JSONResponse(stored)

    async def metrics(request: Request) -> Response:
        authorize(request)
        body, content_type = prometheus_text()
        return Response(body, headers={"content-type": content_type})

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/endpoints/{name}/invocations", invocations, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/labels", post_labels, methods=["POST"]),
    ]
    handlers = {DriftloopError: _error_response, Exception: _unexpected}
    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {int(declared)} bytes, the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _label_records(body: bytes) -> list[dict[str, Any]]:
    """A JSON list, ``{"records": [...]}``, one object, or JSON Lines of ground-truth records."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            doc = [orjson.loads(line) for line in body.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise DataError(f"labels: malformed JSON ({exc})") from None
    if isinstance(doc, dict):
        doc = doc.get("records", [doc])
    if not isinstance(doc, list) or not all(isinstance(item, dict) for item in doc):
        raise DataError("labels: send a list of ground-truth records")
    return doc


def _error_type(exc: DriftloopError) -> str:
    if exc.code == "model_error":
        return "ModelError"
    return "ValidationError" if exc.status_code < 500 else "InternalFailure"


async def _error_response(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, DriftloopError)
    headers = {"x-amzn-ErrorType": _error_type(exc)}
    body = exc.to_dict()
    body["message"] = exc.message  # botocore reads a top-level "message"
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


async def _unexpected(_: Request, _exc: Exception) -> Response:
    # Starlette re-raises after this response, so the server logs the full traceback.
    body = {"error": {"code": "internal_error", "message": "internal error", "details": {}}}
    return JSONResponse(body, status_code=500, headers={"x-amzn-ErrorType": "InternalFailure"})
