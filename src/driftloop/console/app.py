"""The console's ASGI app: routes only translate HTTP; pages render in a worker thread.

Every page is a GET and changes nothing; the only change, approving or rejecting a model
version, is a POST from the same origin, with the API key when one is configured. A failure
becomes a page with one sentence and the error's status (404 for an unknown endpoint, model or
run), never a stack trace.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from driftloop.console import alarms, endpoint, models, monitoring, overview, pipelines
from driftloop.console.assets import CSS, JS
from driftloop.console.context import Ctx
from driftloop.console.html import Page, esc, link, note
from driftloop.console.layout import frame
from driftloop.console.view import LoopView
from driftloop.console.warmup import Renderer, Warmup
from driftloop.errors import DataError, DriftloopError, NotFoundError, Unauthorized

log = logging.getLogger(__name__)
COOKIE = "driftloop_console_key"


def create_app(
    view: LoopView,
    *,
    api_key: str | None = None,
    poll_s: float = 3.0,
    endpoint_url: str | None = None,
    warm: bool = True,
) -> Starlette:
    """The console over ``view``; with ``api_key`` every request needs it (a Bearer header, or
    the cookie that ``/login`` sets). With ``warm``, the first pages are rendered once in the
    background as the console starts and ``/ping`` answers 503 until they are (see
    :mod:`driftloop.console.warmup`); ``app.state.warmup`` holds that warm-up."""
    poll_ms = round(poll_s * 1000)
    warmup = Warmup(view, enabled=warm)

    def authorized(request: Request) -> bool:
        if api_key is None:
            return True
        given = request.headers.get("authorization", "").removeprefix("Bearer ")
        given = given or request.cookies.get(COOKIE, "")
        return hmac.compare_digest(given.encode(), api_key.encode())

    def page_route(render: Renderer) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if not authorized(request):
                return _login_page(request, poll_ms, status=401)
            ctx = Ctx(view, dict(request.path_params), dict(request.query_params), endpoint_url)
            await warmup.wait()  # the same reads, done once rather than twice at once
            page = await _render(render, ctx)
            return _respond(request, page, poll_ms)

        return handle

    async def act(request: Request) -> Response:
        if not authorized(request):
            raise Unauthorized("missing or wrong API key: sign in first")
        _same_origin(request)
        action, ref = request.path_params["action"], request.path_params["version"]
        if action not in models.ACTIONS or not ref.isdigit():
            raise NotFoundError(f"no such action: {action} {ref}")
        form = await _form(request)
        if form.get("confirm") != "yes":
            page = await asyncio.to_thread(models.confirm_page, view, int(ref), action)
            return _respond(request, page, poll_ms)
        back = str(request.headers.get("referer") or "/models")
        back = urlsplit(back).path or "/models"
        try:
            said = await asyncio.to_thread(models.act, view, int(ref), action)
        except DriftloopError as exc:
            if exc.status_code == 404:
                raise
            return RedirectResponse(f"{back}?failed={quote(exc.message)}", status_code=303)
        return RedirectResponse(f"{back}?done={quote(said)}", status_code=303)

    async def report(request: Request) -> Response:
        if not authorized(request):
            return _login_page(request, poll_ms, status=401)
        ctx = Ctx(view, dict(request.path_params), {}, endpoint_url)
        path = await asyncio.to_thread(monitoring.report_file, ctx)
        return FileResponse(path, media_type="text/html")

    async def plot(request: Request) -> Response:
        if not authorized(request):
            return _login_page(request, poll_ms, status=401)
        ref, name = request.path_params["version"], request.path_params["name"]
        if not ref.isdigit():
            raise NotFoundError(f"no model version {ref}")
        data = await asyncio.to_thread(models.plot, view, int(ref), name)
        return Response(data, media_type="image/png", headers={"cache-control": "max-age=300"})

    async def endpoints_index(request: Request) -> Response:
        configs = await asyncio.to_thread(view.stores.endpoints.list)
        if len(configs) >= 1 and authorized(request):
            return RedirectResponse(f"/endpoints/{quote(configs[0].name, safe='')}", 307)
        return await page_route(_no_endpoint)(request)

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return _login_page(request, poll_ms)
        _same_origin(request)
        form = await _form(request)
        key = str(form.get("key", ""))
        target = str(form.get("next") or "/")
        target = target if target.startswith("/") and not target.startswith("//") else "/"
        if api_key is None or not hmac.compare_digest(key.encode(), api_key.encode()):
            return _login_page(request, poll_ms, status=401, failed=True, nxt=target)
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(COOKIE, key, httponly=True, samesite="strict")
        return answer

    async def ping(_: Request) -> Response:
        if not warmup.ready:  # readiness: no client that waits for it meets a cold page
            return Response(
                "warming up", status_code=503, media_type="text/plain", headers={"retry-after": "1"}
            )
        return Response("ok", media_type="text/plain")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        kinds = {"console.css": (CSS, "text/css"), "console.js": (JS, "text/javascript")}
        if name not in kinds:
            raise NotFoundError(f"no file {name}")
        text, kind = kinds[name]
        return Response(text, media_type=kind, headers={"cache-control": "max-age=300"})

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DriftloopError)
        page = Page(
            "Not found" if exc.status_code == 404 else "Error",
            f"<h1>{esc('Not found' if exc.status_code == 404 else 'Refused')}</h1>"
            + note(exc.message, "bad")
            + f"<p>{link('/', 'Back to the overview')}</p>",
            status=exc.status_code,
        )
        return _respond(request, page, poll_ms)

    async def unexpected(request: Request, _exc: Exception) -> Response:
        page = Page(
            "Error",
            "<h1>Internal error</h1>"
            + note("The console failed on this page; its log has the details.", "bad"),
            status=500,
        )
        return _respond(request, page, poll_ms)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> Any:
        warmup.start()
        try:
            yield
        finally:
            view.close()

    routes = [
        Route("/", page_route(overview.render)),
        Route("/endpoints", endpoints_index),
        Route("/endpoints/{name}", page_route(endpoint.render)),
        Route("/models", page_route(models.render)),
        Route("/models/{version}", page_route(models.render_version)),
        Route("/models/{version}/{action}", act, methods=["POST"]),
        Route("/models/{version}/plots/{name}", plot),
        Route("/monitoring", page_route(monitoring.render)),
        Route("/monitoring/{endpoint}/{run}", page_route(monitoring.render_run)),
        Route("/monitoring/{endpoint}/{run}/report", report),
        Route("/alarms", page_route(alarms.render)),
        Route("/pipelines", page_route(pipelines.render)),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/ping", ping),
        Route("/static/{name}", static),
    ]

    async def no_page(request: Request, _exc: Exception) -> Response:
        page = Page(
            "Not found",
            "<h1>Not found</h1>"
            + note(f"The console has no page at {request.url.path}.", "bad")
            + f"<p>{link('/', 'Back to the overview')}</p>",
            status=404,
        )
        return _respond(request, page, poll_ms)

    handlers: dict[Any, Any] = {
        404: no_page,
        DriftloopError: on_error,
        Exception: unexpected,
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.warmup = warmup
    return app


async def _form(request: Request) -> dict[str, str]:
    """A small url-encoded form (the console's own forms), at most 64 kB."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > 65536:
            raise DataError("the form is too large")
    return dict(parse_qsl(body.decode("utf-8", "replace")))


def _no_endpoint(_ctx: Ctx) -> Page:
    return Page("Endpoint", "<h1>Endpoint</h1>" + note(overview.FRESH))


async def _render(render: Renderer, ctx: Ctx) -> Page:
    return await asyncio.to_thread(render, ctx)


def _respond(request: Request, page: Page, poll_ms: int) -> Response:
    if request.headers.get("x-console-partial"):
        return HTMLResponse(page.body, status_code=page.status)
    html = frame(page, request.url.path, poll_ms)
    return HTMLResponse(html, status_code=page.status, headers=page.headers)


def _same_origin(request: Request) -> None:
    """Refuse a state change posted from another site (the browser names the origin)."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin and origin != "null" and urlsplit(origin).netloc != host:
        raise Unauthorized(f"a change posted from {origin} is refused: use the console itself")
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Unauthorized("a change posted from another site is refused")


def _login_page(
    request: Request,
    poll_ms: int,
    *,
    status: int = 200,
    failed: bool = False,
    nxt: str | None = None,
) -> Response:
    here = request.url.path if request.url.path != "/login" else "/"
    nxt = nxt or request.query_params.get("next", here)
    body = (
        "<h1>Sign in</h1>"
        + (note("That is not the console's API key.", "bad") if failed else "")
        + note(
            "This console is served beyond this machine, so it asks for the API key "
            "(serving.api_key, or DRIFTLOOP_SERVING__API_KEY)."
        )
        + '<form method="post" action="/login">'
        f'<input type="hidden" name="next" value="{esc(nxt)}">'
        '<input type="password" name="key" placeholder="API key" autofocus> '
        '<button type="submit">sign in</button></form>'
    )
    return _respond(request, Page("Sign in", body, status=status), poll_ms)
