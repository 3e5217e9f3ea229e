"""The HTTP routes, and nothing else: each maps a request onto `ServerState` or a runner.

Handlers read the raw body and return pre-encoded JSON bytes: one `json.loads` in, one
`json.dumps` out, on the prediction hot path. They are registered with `app.add_route` as
plain request/response routes: FastAPI's endpoint analysis and per-request dependency
solving have nothing to do for them, and skipping them cut ~200 µs of server CPU per request
and the import of pydantic.v1 (~40 ms of start-up) in `bench/server.py` runs.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from cogkit.server import http_errors
from cogkit.server.metrics import CONTENT_TYPE, MetricsMiddleware
from cogkit.server.prediction import PredictionRequest
from cogkit.server.runner import PredictionRunner
from cogkit.server.sse import sse_events
from cogkit.server.state import ServerState

JSON = "application/json"
READY_STATES = frozenset({"READY", "BUSY"})
DEAD_STATES = frozenset({"SETUP_FAILED", "DEFUNCT"})


def _state(request: Request) -> ServerState:
    return request.app.state.cogkit


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body).encode(), status_code=status, media_type=JSON)


async def _create(request: Request, runner: PredictionRunner, path_id: str | None) -> Response:
    """POST and PUT: sync (wait, 200), async (`Prefer: respond-async`, 202) or SSE streaming."""
    parsed = PredictionRequest.parse(await request.body(), path_id=path_id)
    headers = request.headers
    respond_async = "respond-async" in headers.get("prefer", "")
    stream = not respond_async and "text/event-stream" in headers.get("accept", "")
    if not respond_async and not stream:  # the common case: run it in this task, no hand-off
        return Response((await runner.predict(parsed)).encode(), media_type=JSON)
    pred, existed = await runner.submit(parsed, stream=stream)
    if respond_async:
        return Response(pred.encode(), status_code=202, media_type=JSON)
    if pred.stream is not None and not existed:
        return StreamingResponse(sse_events(pred), media_type="text/event-stream")
    await runner.wait(pred)
    return Response(pred.encode(), media_type=JSON)


async def create_prediction(request: Request) -> Response:
    return await _create(request, _state(request).runner("prediction"), None)


async def create_prediction_idempotent(request: Request) -> Response:
    return await _create(request, _state(request).runner("prediction"), request.path_params["prediction_id"])


async def get_prediction(request: Request) -> Response:
    pred = _state(request).runner("prediction").get(request.path_params["prediction_id"])
    return Response(pred.encode(), media_type=JSON)


async def cancel_prediction(request: Request) -> Response:
    await _state(request).runner("prediction").cancel(request.path_params["prediction_id"])
    return _json({})


async def create_training(request: Request) -> Response:
    return await _create(request, _state(request).runner("training"), None)


async def create_training_idempotent(request: Request) -> Response:
    return await _create(request, _state(request).runner("training"), request.path_params["training_id"])


async def get_training(request: Request) -> Response:
    pred = _state(request).runner("training").get(request.path_params["training_id"])
    return Response(pred.encode(), media_type=JSON)


async def cancel_training(request: Request) -> Response:
    await _state(request).runner("training").cancel(request.path_params["training_id"])
    return _json({})


async def root(request: Request) -> Response:
    return _json(_state(request).root())


async def health_check(request: Request) -> Response:
    return _json(await _state(request).health())


async def readiness(request: Request) -> Response:
    """Kubernetes readiness: 200 while the model can take work (READY or BUSY), else 503."""
    status = (await _state(request).health())["status"]
    return _json({"status": status}, 200 if status in READY_STATES else 503)


async def liveness(request: Request) -> Response:
    """Kubernetes liveness: 503 once only a restart can help (setup failed, or the worker is defunct)."""
    status = _state(request).primary.supervisor.state
    return _json({"status": status}, 503 if status in DEAD_STATES else 200)


async def openapi(request: Request) -> Response:
    return _json(await _state(request).openapi())


async def metrics(request: Request) -> Response:
    return Response(_state(request).render_metrics(), media_type=CONTENT_TYPE)


async def shutdown(request: Request) -> Response:
    _state(request).request_shutdown()
    return _json({})


# (path, handler, methods). The prediction routes come first: routing tries routes in order,
# and they are the hot path. The path templates are also the metrics' `route` label values.
ROUTES: tuple[tuple[str, Callable[[Request], Awaitable[Response]], tuple[str, ...]], ...] = (
    ("/predictions", create_prediction, ("POST",)),
    ("/predictions/{prediction_id}", create_prediction_idempotent, ("PUT",)),
    ("/predictions/{prediction_id}", get_prediction, ("GET",)),
    ("/predictions/{prediction_id}/cancel", cancel_prediction, ("POST",)),
    ("/trainings", create_training, ("POST",)),
    ("/trainings/{training_id}", create_training_idempotent, ("PUT",)),
    ("/trainings/{training_id}", get_training, ("GET",)),
    ("/trainings/{training_id}/cancel", cancel_training, ("POST",)),
    ("/", root, ("GET",)),
    ("/health-check", health_check, ("GET",)),
    ("/readyz", readiness, ("GET",)),
    ("/livez", liveness, ("GET",)),
    ("/openapi.json", openapi, ("GET",)),
    ("/metrics", metrics, ("GET",)),
    ("/shutdown", shutdown, ("POST",)),
)


def build_app(state: ServerState) -> FastAPI:
    """The ASGI app for one server; FastAPI's own docs are off, /openapi.json is the model's."""
    app = FastAPI(title="cogkit", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.cogkit = state
    for path, handler, methods in ROUTES:
        app.add_route(path, handler, methods=list(methods))
    if state.config.playground:  # the web form; imported only when served
        from cogkit.playground.routes import routes as playground_routes

        app.router.routes.extend(playground_routes())
    http_errors.install(app)
    app.add_middleware(
        MetricsMiddleware, metrics=state.metrics, routes={handler: path for path, handler, _ in ROUTES}
    )
    return app
