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

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from cogkit.errors import CogkitError, PredictionFailed, UsageError

log = logging.getLogger("cogkit.server")


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


def response_for(exc: Exception) -> Response:
    """The one mapping from an exception to its answer: each CogkitError with the status its class
    names, in the shape Cog clients read; a client gone mid-body gets 400 (nobody reads it); a
    bug in cogkit 500 JSON, its traceback logged."""
    if isinstance(exc, RequestInvalid):
        return JSONResponse({"detail": exc.detail}, status_code=422)
    if isinstance(exc, WorkerUnavailable):
        return JSONResponse({"status": "failed", "error": exc.message}, status_code=503)
    if isinstance(exc, CogkitError):
        return JSONResponse({"detail": str(exc)}, status_code=getattr(exc, "status_code", 500))
    if isinstance(exc, ClientDisconnect):
        return Response(status_code=400)
    log.error("internal error serving a request", exc_info=exc)
    return JSONResponse({"detail": f"internal server error: {type(exc).__name__}"}, status_code=500)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 (no route, wrong method), as JSON like every other error."""
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
