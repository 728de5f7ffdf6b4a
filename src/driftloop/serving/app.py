"""The HTTP layer: SageMaker's container contract and runtime API path, over the data plane.

Routes only translate HTTP. Every error leaves through one envelope,
``{"error": {"code", "message", "details"}}``, with boto3's ``x-amzn-ErrorType`` header.
Invocations take a direct ASGI path to the data plane; everything else is Starlette's routing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

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

    def authorize(given: str) -> None:
        if api_key is None:
            return
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

    async def invoke(name: str | None, headers: dict[str, str], body: bytes) -> Reply:
        """One invocation from its path's endpoint name, headers and body; errors are raised."""
        authorize(headers.get("authorization", ""))
        current = await plane()
        if name is not None and name != current.endpoint:
            raise NotFoundError(f"endpoint '{name}' is not served here", details={"endpoint": name})
        call = Invocation(
            body=body,
            content_type=headers.get("content-type"),
            accept=headers.get("accept"),
            target_variant=headers.get("x-amzn-sagemaker-target-variant"),
            inference_id=headers.get("x-amzn-sagemaker-inference-id"),
            custom_attributes=headers.get("x-amzn-sagemaker-custom-attributes"),
        )
        answer = await current.invoke(call)
        out = [
            (b"x-amzn-invoked-production-variant", answer.variant.encode("latin-1")),
            (b"x-driftloop-model-version", answer.model_version.encode("latin-1")),
        ]
        if call.custom_attributes:
            out.append(
                (b"x-amzn-sagemaker-custom-attributes", call.custom_attributes.encode("latin-1"))
            )
        shadow = current if current.wants_shadow() else None
        return Reply(answer.body, answer.content_type, out, shadow, call)

    async def post_labels(request: Request) -> Response:
        authorize(request.headers.get("authorization", ""))
        if labels is None:
            raise NotFoundError("this server does not take labels (no workspace endpoint)")
        declared = request.headers.get("content-length")
        body = await _read_body(declared, request.stream(), max_body_bytes)
        records = _label_records(body)
        stored = await asyncio.to_thread(labels, records)
        return JSONResponse(stored)

    async def metrics(request: Request) -> Response:
        authorize(request.headers.get("authorization", ""))
        body, content_type = prometheus_text()
        return Response(body, headers={"content-type": content_type})

    async def invocations(request: Request) -> Response:
        # Reached only for what the fast path passes on (e.g. a root path): same answer.
        headers = dict(request.headers.items())
        body = await _read_body(
            request.headers.get("content-length"), request.stream(), max_body_bytes
        )
        reply = await invoke(request.path_params.get("name"), headers, body)
        return reply.response()

    routes = [
        Route("/ping", ping, methods=["GET"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/endpoints/{name}/invocations", invocations, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/labels", post_labels, methods=["POST"]),
    ]
    handlers = {DriftloopError: _error_response, Exception: _unexpected}
    return _Endpoint(
        invoke, max_body_bytes, routes=routes, exception_handlers=handlers, lifespan=lifespan
    )


class Reply:
    """An invocation's answer: body, media type, extra headers and the shadow call to run after."""

    __slots__ = ("body", "call", "content_type", "headers", "shadow")

    def __init__(
        self,
        body: bytes,
        content_type: str,
        headers: list[tuple[bytes, bytes]],
        shadow: DataPlane | None,
        call: Invocation,
    ) -> None:
        self.body, self.content_type, self.headers = body, content_type, headers
        self.shadow, self.call = shadow, call

    def start(self) -> dict[str, Any]:
        """The ASGI response start, with the headers Starlette's Response would send."""
        media = self.content_type
        if media.startswith("text/") and "charset=" not in media:
            media += "; charset=utf-8"
        raw = [
            (b"content-length", str(len(self.body)).encode()),
            (b"content-type", media.encode("latin-1")),
            *self.headers,
        ]
        return {"type": "http.response.start", "status": 200, "headers": raw}

    def response(self) -> Response:
        background = BackgroundTask(self.shadow.shadow, self.call) if self.shadow else None
        response = Response(self.body, background=background)
        response.raw_headers = self.start()["headers"]
        return response


Invoke = Callable[[str | None, dict[str, str], bytes], Awaitable[Reply]]
_WANTED = frozenset(
    (
        b"authorization",
        b"content-type",
        b"content-length",
        b"accept",
        b"x-amzn-sagemaker-target-variant",
        b"x-amzn-sagemaker-inference-id",
        b"x-amzn-sagemaker-custom-attributes",
    )
)


class _Endpoint(Starlette):
    """The app: invocations go straight from ASGI to the data plane, the rest through Starlette.

    An invocation is most of the traffic, and Starlette's routing, request, header and response
    objects cost it about as much as parsing and predicting one row; here it reads the headers
    it needs from the scope once and sends the answer itself. Errors leave by the same handlers.
    """

    def __init__(self, invoke: Invoke, max_body_bytes: int, **starlette: Any) -> None:
        super().__init__(**starlette)
        self._invoke = invoke
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return await super().__call__(scope, receive, send)
        name = _invocation_target(scope["path"])
        if name is None:
            return await super().__call__(scope, receive, send)
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            if key in _WANTED:
                headers.setdefault(key.decode("latin-1"), value.decode("latin-1"))
        try:
            body = await _read_body(headers.get("content-length"), _chunks(receive), self._max_body)
            reply = await self._invoke(name or None, headers, body)
        except _Disconnected:
            return None
        except DriftloopError as exc:
            response = await _error_response(Request(scope), exc)
            await response(scope, receive, send)
            return None
        except Exception as exc:
            response = await _unexpected(Request(scope), exc)
            await response(scope, receive, send)
            raise  # the server logs the traceback, as Starlette's error middleware does
        await send(reply.start())
        await send({"type": "http.response.body", "body": reply.body})
        if reply.shadow is not None:
            await reply.shadow.shadow(reply.call)
        return None


def _invocation_target(path: str) -> str | None:
    """``""`` for ``/invocations``, the name in ``/endpoints/{name}/invocations``, else None."""
    if path == "/invocations":
        return ""
    if path.startswith("/endpoints/") and path.endswith("/invocations"):
        name = path[len("/endpoints/") : -len("/invocations")]
        if name and "/" not in name:
            return name
    return None


class _Disconnected(Exception):
    """The client went away before its body arrived: nobody to answer."""


async def _chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        yield message.get("body", b"")
        if not message.get("more_body", False):
            return


async def _read_body(declared: str | None, stream: AsyncIterator[bytes], limit: int) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {int(declared)} bytes, the limit is {limit}")
    chunks, size = [], 0
    async for chunk in stream:
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
