"""Domain errors of the server, and the one place that maps them to HTTP responses.

CogkitError
├── UsageError
│   ├── BadRequest         400: the body is not JSON at all
│   ├── RequestInvalid     422: the body is not a prediction request; `detail` lists each field
│   │   └── InputInvalid   422: one input field is wrong (e.g. a file URL that cannot be fetched)
│   └── NotFound           404: no prediction with that id (or it has finished: nothing to cancel)
└── PredictionFailed
    ├── SlotsBusy          409: every concurrency slot is in use (Cog's answer)
    ├── WorkerUnavailable  503: setup failed, the worker is defunct or restarting, or the server
    │                      is shutting down; Cog's body `{"status": "failed", "error": …}`
    ├── UploadFailed       the prediction fails: an output file could not be uploaded
    └── OutputInvalid      the prediction fails: an output file is refused or too large
"""

from __future__ import annotations

from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from cogkit.errors import CogkitError, PredictionFailed, UsageError


class BadRequest(UsageError):
    status_code = 400


class RequestInvalid(UsageError):
    """The request body or its inputs fail validation; `detail` is FastAPI's error list."""

    status_code = 422

    def __init__(self, detail: list[dict[str, Any]]) -> None:
        self.detail = detail
        first = detail[0] if detail else {}
        super().__init__(f"invalid request: {first.get('msg', 'validation failed')}")


class InputInvalid(RequestInvalid):
    """One named input is wrong, found after schema validation (downloads, data URIs)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__([{"loc": ["body", "input", field], "msg": message, "type": "value_error"}])


class NotFound(UsageError):
    status_code = 404


class SlotsBusy(PredictionFailed):
    status_code = 409


class WorkerUnavailable(PredictionFailed):
    status_code = 503


class UploadFailed(PredictionFailed):
    status_code = 502


class OutputInvalid(PredictionFailed):
    status_code = 500


async def handle_cogkit_error(request: Request, exc: Exception) -> JSONResponse:
    """Render every CogkitError with the status its class names, in the shape Cog clients read."""
    if isinstance(exc, RequestInvalid):
        return JSONResponse({"detail": exc.detail}, status_code=422)
    if isinstance(exc, WorkerUnavailable):
        return JSONResponse({"status": "failed", "error": exc.message}, status_code=503)
    return JSONResponse({"detail": str(exc)}, status_code=getattr(exc, "status_code", 500))


async def handle_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away (or was cut off at a limit) while sending: nobody reads an answer."""
    return Response(status_code=400)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug in cogkit: still answer JSON, so clients parse it; uvicorn logs the traceback."""
    return JSONResponse({"detail": f"internal server error: {type(exc).__name__}"}, status_code=500)


def install(app: Any) -> None:
    """Register the handlers on a FastAPI/Starlette app."""
    app.add_exception_handler(CogkitError, handle_cogkit_error)
    app.add_exception_handler(ClientDisconnect, handle_disconnect)
    app.add_exception_handler(Exception, handle_unexpected)
