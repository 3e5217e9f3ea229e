"""The HTTP routes, and nothing else: each maps a request onto `ServerState` or a runner.

Handlers read the raw body and return pre-encoded JSON bytes: one `json.loads` in, one
`json.dumps` out, on the prediction hot path.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from cogkit.server import http_errors
from cogkit.server.metrics import CONTENT_TYPE, MetricsMiddleware
from cogkit.server.prediction import PredictionRequest
from cogkit.server.runner import PredictionRunner
from cogkit.server.sse import sse_events
from cogkit.server.state import ServerState

JSON = "application/json"

router = APIRouter()


def _state(request: Request) -> ServerState:
    return request.app.state.cogkit


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body).encode(), status_code=status, media_type=JSON)


async def _create(request: Request, runner: PredictionRunner, path_id: str | None) -> Response:
    """POST and PUT: sync (wait, 200), async (`Prefer: respond-async`, 202) or SSE streaming."""
    parsed = PredictionRequest.parse(await request.body(), path_id=path_id)
    respond_async = "respond-async" in request.headers.get("prefer", "")
    stream = not respond_async and "text/event-stream" in request.headers.get("accept", "")
    pred, existed = await runner.submit(parsed, stream=stream)
    if respond_async:
        return Response(pred.encode(), status_code=202, media_type=JSON)
    if pred.stream is not None and not existed:
        return StreamingResponse(sse_events(pred), media_type="text/event-stream")
    await runner.wait(pred)
    return Response(pred.encode(), media_type=JSON)


# The prediction routes come first: routing tries routes in order, and they are the hot path.
@router.post("/predictions")
async def create_prediction(request: Request) -> Response:
    return await _create(request, _state(request).runner("prediction"), None)


@router.put("/predictions/{prediction_id}")
async def create_prediction_idempotent(request: Request, prediction_id: str) -> Response:
    return await _create(request, _state(request).runner("prediction"), prediction_id)


@router.get("/predictions/{prediction_id}")
async def get_prediction(request: Request, prediction_id: str) -> Response:
    return Response(_state(request).runner("prediction").get(prediction_id).encode(), media_type=JSON)


@router.post("/predictions/{prediction_id}/cancel")
async def cancel_prediction(request: Request, prediction_id: str) -> Response:
    await _state(request).runner("prediction").cancel(prediction_id)
    return _json({})


@router.post("/trainings")
async def create_training(request: Request) -> Response:
    return await _create(request, _state(request).runner("training"), None)


@router.put("/trainings/{training_id}")
async def create_training_idempotent(request: Request, training_id: str) -> Response:
    return await _create(request, _state(request).runner("training"), training_id)


@router.get("/trainings/{training_id}")
async def get_training(request: Request, training_id: str) -> Response:
    return Response(_state(request).runner("training").get(training_id).encode(), media_type=JSON)


@router.post("/trainings/{training_id}/cancel")
async def cancel_training(request: Request, training_id: str) -> Response:
    await _state(request).runner("training").cancel(training_id)
    return _json({})


@router.get("/")
async def root(request: Request) -> Response:
    return _json(_state(request).root())


@router.get("/health-check")
async def health_check(request: Request) -> Response:
    return _json(await _state(request).health())


@router.get("/openapi.json")
async def openapi(request: Request) -> Response:
    return _json(await _state(request).openapi())


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    return Response(_state(request).render_metrics(), media_type=CONTENT_TYPE)


@router.post("/shutdown")
async def shutdown(request: Request) -> Response:
    _state(request).request_shutdown()
    return _json({})


def build_app(state: ServerState) -> FastAPI:
    """The ASGI app for one server; FastAPI's own docs are off, /openapi.json is the model's."""
    app = FastAPI(title="cogkit", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.cogkit = state
    app.include_router(router)
    http_errors.install(app)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app
