"""The HTTP routes, and nothing else: each maps a request onto `ServerState` or a runner.

Handlers read the raw body and return pre-encoded JSON bytes: one `json.loads` in, one
`json.dumps` out, on the prediction hot path. There is no middleware: each route's handler is
wrapped once (`_instrumented`) to turn cogkit's errors into their answers and to record the
request's metrics, and the routes without path parameters (`POST /predictions` above all) are
found by one dict lookup (`App`) before Starlette's router and its exception layers, which
serve the rest. FastAPI is not used: none of its features served these plain routes, and its
import (~160 ms, building `fastapi.openapi.models`) was the longest step before READY. Measured
side by side, the lane and the missing layers cut the server process's CPU per sequential
prediction by ~10% (396 → 360 µs, two cores; bench/README.md). A 409 under overload is usually answered before
any of this, by the HTTP protocol (connections.py, `ServerState.answer`).

Predictions and trainings share one set of handlers (`ModeRoutes`), parameterised by `Mode`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from cogkit.mode import Mode
from cogkit.server import http_errors, sse
from cogkit.server.metrics import CONTENT_TYPE, ServerMetrics
from cogkit.server.prediction import Prediction, PredictionRequest
from cogkit.server.state import ServerState

JSON = "application/json"
LARGE_BODY = 1 << 20  # bytes of request body parsed on a thread
Handler = Callable[[Request], Awaitable[Response]]


def _state(request: Request) -> ServerState:
    return request.app.state.cogkit


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body).encode(), status_code=status, media_type=JSON)


class ModeRoutes:
    """POST, PUT, GET and cancel for one mode: `/predictions…` or `/trainings…`."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.collection = f"/{mode.endpoint}"
        self.one = f"{self.collection}/{{{mode.id_param}}}"

    def routes(self) -> tuple[tuple[str, Handler, tuple[str, ...]], ...]:
        return (
            (self.collection, self.create, ("POST",)),
            (self.one, self.create_idempotent, ("PUT",)),
            (self.one, self.get, ("GET",)),
            (f"{self.one}/cancel", self.cancel, ("POST",)),
        )

    async def create(self, request: Request) -> Response:
        return await self._create(request, None)

    async def create_idempotent(self, request: Request) -> Response:
        return await self._create(request, request.path_params[self.mode.id_param])

    async def _create(self, request: Request, path_id: str | None) -> Response:
        """Sync (wait, 200), async (`Prefer: respond-async`, 202) or SSE streaming."""
        runner = _state(request).runner(self.mode)
        body = b"".join([chunk async for chunk in request.stream()])  # not kept on the request
        busy = runner.refuse_early(path_id, body)
        if busy is not None:
            return Response(busy, status_code=409, media_type=JSON)
        if len(body) > LARGE_BODY:  # tens of milliseconds of JSON: not on the event loop
            parsed = await asyncio.to_thread(PredictionRequest.parse, body, path_id=path_id)
        else:
            parsed = PredictionRequest.parse(body, path_id=path_id)
        del body
        headers = request.headers
        respond_async = "respond-async" in headers.get("prefer", "")
        stream = not respond_async and "text/event-stream" in headers.get("accept", "")
        if not respond_async and not stream:  # the common case: run it in this task, no hand-off
            return Response(await runner.predict(parsed), media_type=JSON)
        pred, existed = await runner.submit(parsed, stream=stream)
        if not isinstance(pred, Prediction):  # an id that already finished
            return Response(pred, status_code=202 if respond_async else 200, media_type=JSON)
        if respond_async:
            return Response(pred.encode(), status_code=202, media_type=JSON)
        if pred.stream is not None and not existed:
            return StreamingResponse(
                sse.sse_events(pred, pred.stream), media_type="text/event-stream", headers=sse.HEADERS
            )
        await runner.wait(pred)
        return Response(pred.encode(), media_type=JSON)

    async def get(self, request: Request) -> Response:
        runner = _state(request).runner(self.mode)
        return Response(await runner.response(request.path_params[self.mode.id_param]), media_type=JSON)

    async def cancel(self, request: Request) -> Response:
        await _state(request).runner(self.mode).cancel(request.path_params[self.mode.id_param])
        return _json({})


async def root(request: Request) -> Response:
    return _json(_state(request).root())


async def health_check(request: Request) -> Response:
    status, setup = await _state(request).health()
    return _json({"status": status.value, "setup": setup})


async def readiness(request: Request) -> Response:
    """Kubernetes readiness: 200 while the model can take work (READY or BUSY), else 503.
    A server that is shutting down is not ready, whatever its model's state."""
    state = _state(request)
    status, _ = await state.health()
    return _json({"status": status.value}, 200 if status.takes_work and state.accepting else 503)


async def liveness(request: Request) -> Response:
    """Kubernetes liveness: 503 once only a restart can help (setup failed, or the worker is defunct)."""
    status = _state(request).state()
    return _json({"status": status.value}, 200 if status.alive else 503)


async def openapi(request: Request) -> Response:
    return _json(await _state(request).openapi())


async def metrics(request: Request) -> Response:
    return Response(_state(request).render_metrics(), media_type=CONTENT_TYPE)


async def shutdown(request: Request) -> Response:
    _state(request).request_shutdown()
    return _json({})


# (path, handler, methods). The prediction routes come first: routing tries routes in order,
# and they are the hot path. The path templates are also the metrics' `route` label values.
ROUTES: tuple[tuple[str, Handler, tuple[str, ...]], ...] = (
    *ModeRoutes(Mode.PREDICT).routes(),
    *ModeRoutes(Mode.TRAIN).routes(),
    ("/", root, ("GET",)),
    ("/health-check", health_check, ("GET",)),
    ("/readyz", readiness, ("GET",)),
    ("/livez", liveness, ("GET",)),
    ("/openapi.json", openapi, ("GET",)),
    ("/metrics", metrics, ("GET",)),
    ("/shutdown", shutdown, ("POST",)),
)


class App:
    """Starlette's app behind a lane for the routes without path parameters (`POST /predictions`
    above all): an exact (method, path) lookup, then the wrapped handler and its response. The
    rest (ids, the playground, 404 and 405) goes through Starlette's router."""

    def __init__(self, router: Starlette, routes: list[BaseRoute]) -> None:
        self.router = router
        self.state = router.state
        self.lane = {
            (method, route.path): route.endpoint
            for route in routes
            if isinstance(route, Route) and not route.param_convertors
            for method in route.methods or ()
        }

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        handler = self.lane.get((scope.get("method"), scope.get("path")))
        if handler is None:
            await self.router(scope, receive, send)
            return
        scope["app"] = self.router
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)


def build_app(state: ServerState) -> App:
    """The ASGI app for one server. /openapi.json is the model's document; there are no docs pages."""
    routes = [Route(path, handler, methods=list(methods)) for path, handler, methods in ROUTES]
    if state.config.playground:  # the web form; imported only when served
        from cogkit.playground.routes import routes as playground_routes

        routes += playground_routes()
    instrumented = [_instrumented(route, state.metrics) for route in routes]
    templates = {route.endpoint: route.path for route in instrumented if isinstance(route, Route)}

    async def not_routed(request: Request, exc: Exception) -> Response:
        """No route (404) or the wrong method (405): JSON like every other answer, and counted."""
        response = await http_errors.handle_http_exception(request, exc)
        route = templates.get(request.scope.get("endpoint"), "unmatched")
        state.metrics.observe_request(request.method, route, response.status_code, 0.0)
        return response

    app = Starlette(routes=instrumented, exception_handlers={HTTPException: not_routed})
    app.state.cogkit = state
    return App(app, instrumented)


def _instrumented(route: BaseRoute, metrics: ServerMetrics) -> BaseRoute:
    """`route` with its handler wrapped: errors become their answers (`http_errors.response_for`)
    and the request is counted and timed under the route's template, in one frame per request."""
    if not isinstance(route, Route):
        return route
    handler, template = route.endpoint, route.path
    clock = time.perf_counter

    async def serve(request: Request) -> Response:
        start = clock()
        try:
            response = await handler(request)
        except Exception as e:
            response = http_errors.response_for(e)
        metrics.observe_request(request.method, template, response.status_code, clock() - start)
        return response

    return Route(template, serve, methods=list(route.methods or ()), name=route.name)
