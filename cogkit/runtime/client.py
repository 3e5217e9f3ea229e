"""Talk to a running cogkit (or Cog) server: wait for READY, run a prediction, stream its output.

Every wait here is bounded. `wait_ready` also asks the caller whether the server process is still
alive, so a server that crashes at start-up fails fast with its own logs instead of a timeout.
Works against Cog's own servers too (an image built by Cog), so it speaks only Cog's HTTP API.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from cogkit.errors import PredictorError, UsageError
from cogkit.mode import Mode
from cogkit.runtime.backend import Progress, Report, ignore

READY_TIMEOUT_S = 600.0
POLL_INTERVAL_S = 0.1
PROGRESS_EVERY_S = 1.0
PREDICT_TIMEOUT_S = 24 * 3600.0
SETUP_STEP = "running setup"

# Returns None while the server lives, else a description of how it died (e.g. its last log lines).
AliveCheck = Callable[[], str | None]


def wait_ready(
    url: str,
    *,
    alive: AliveCheck,
    timeout_s: float = READY_TIMEOUT_S,
    report: Report = ignore,
    logs_shown: Callable[[], bool] = lambda: False,
) -> dict[str, Any]:
    """Poll /health-check until READY, reporting the setup's progress about once a second.

    A failed setup raises PredictorError with the setup's last line, and its whole log unless
    `logs_shown()` says the user already saw it as it happened.
    """
    started = time.monotonic()
    next_report = 0.0
    last_status = ""
    with httpx.Client(base_url=url, timeout=5.0) as http:
        while (elapsed := time.monotonic() - started) < timeout_s:
            death = alive()
            if death is not None:
                raise PredictorError(f"the server stopped before it was ready:\n{death}")
            try:
                health = http.get("/health-check").json()
            except (httpx.HTTPError, json.JSONDecodeError):
                health = {}
            status = str(health.get("status", "")) if isinstance(health, dict) else ""
            last_status = status or last_status
            if status in ("READY", "BUSY"):
                report(Progress(SETUP_STEP, elapsed, done=True))
                return health
            if status in ("SETUP_FAILED", "DEFUNCT"):
                report(Progress(SETUP_STEP, elapsed, done=True))
                raise _setup_failed(status, _setup_logs(health), quote=not logs_shown())
            if elapsed >= next_report:
                report(Progress(SETUP_STEP, elapsed))
                next_report = elapsed + PROGRESS_EVERY_S
            time.sleep(POLL_INTERVAL_S)
    report(Progress(SETUP_STEP, time.monotonic() - started, done=True))
    raise PredictorError(
        f"setup did not finish within {timeout_s:g}s (last status: {last_status or 'no answer'})",
        hint="give it longer with --setup-timeout SECONDS",
    )


# The line that says what went wrong: Python's last traceback line ("OSError: weights missing"),
# or cogkit's worker's summary ("setup() raised OSError: weights missing").
_EXCEPTION_LINE = re.compile(r"^(?:[\w.]*(?:Error|Exception|Exit|Interrupt)\b|.* raised \w)")


def _setup_failed(status: str, logs: str, *, quote: bool) -> PredictorError:
    lines = [line for line in logs.splitlines() if line.strip()]
    telling = [line for line in lines if _EXCEPTION_LINE.match(line.strip())]
    useful = (telling or lines or ["no setup logs"])[-1].strip()
    message = f"setup failed ({status}): {useful}"
    if quote and len(lines) > 1:
        message += "\n" + "\n".join(f"    {line}" for line in lines)
    return PredictorError(message, hint="fix the error in your predictor's setup(), then run again")


def _setup_logs(health: dict[str, Any]) -> str:
    setup = health.get("setup") or {}
    logs = setup.get("logs") if isinstance(setup, dict) else None
    return str(logs or "").rstrip()


def openapi(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30.0) as http:
        response = http.get("/openapi.json")
        response.raise_for_status()
        return response.json()


def is_iterator_output(schema: dict[str, Any]) -> bool:
    """True when the predictor yields its output (Cog marks it `x-cog-array-type: iterator`)."""
    output = schema.get("components", {}).get("schemas", {}).get("Output", {})
    return output.get("x-cog-array-type") == "iterator"


def run(
    url: str,
    payload: dict[str, Any],
    *,
    mode: Mode = Mode.PREDICT,
    stream: bool = False,
    on_output: Callable[[Any], None] | None = None,
    timeout_s: float = PREDICT_TIMEOUT_S,
) -> dict[str, Any]:
    """POST a prediction (or training) and return Cog's response object.

    With `stream`, ask for server-sent events and hand each output chunk to `on_output` as it arrives.
    """
    timeout = httpx.Timeout(timeout_s, connect=10.0)
    with httpx.Client(base_url=url, timeout=timeout) as http:
        if stream and on_output is not None:
            return _run_streaming(http, mode, payload, on_output)
        try:
            response = http.post(f"/{mode.endpoint}", json=payload)
        except httpx.HTTPError as exc:
            raise PredictorError(f"the server did not answer the {mode.noun}: {exc}") from exc
        return _response_json(response, mode)


def _response_json(response: httpx.Response, mode: Mode) -> dict[str, Any]:
    endpoint = f"/{mode.endpoint}"
    if response.status_code == 422:
        raise UsageError(f"the server rejected the input: {_detail(response)}")
    if response.status_code >= 400 and response.status_code != 500:
        raise PredictorError(f"{endpoint} answered HTTP {response.status_code}: {response.text[:500]}")
    try:
        body = response.json()
    except json.JSONDecodeError as exc:
        raise PredictorError(
            f"{endpoint} answered HTTP {response.status_code}: {response.text[:500]}"
        ) from exc
    return body if isinstance(body, dict) else {"status": "failed", "error": str(body)}


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (json.JSONDecodeError, AttributeError):
        return response.text[:500]
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
    return str(detail)


def _run_streaming(
    http: httpx.Client, mode: Mode, payload: dict[str, Any], on_output: Callable[[Any], None]
) -> dict[str, Any]:
    final: dict[str, Any] | None = None
    chunks: list[Any] = []
    headers = {"Accept": "text/event-stream"}
    with http.stream("POST", f"/{mode.endpoint}", json=payload, headers=headers) as response:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            response.read()
            return _response_json(response, mode)
        for event, data in _events(response.iter_lines()):
            if event == "output":
                chunks.append(data)
                on_output(data)
            elif event == "completed":
                final = data if isinstance(data, dict) else None
    if final is None:
        raise PredictorError(f"the server closed the stream before the {mode.noun} completed")
    final.setdefault("output", chunks)
    return final


def _events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """Parse server-sent events into (event name, JSON-decoded data) pairs."""
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                raw = "\n".join(data)
                try:
                    yield event, json.loads(raw)
                except json.JSONDecodeError:
                    yield event, raw
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)
