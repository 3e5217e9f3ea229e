"""Talk to a running cogkit (or Cog) server: wait for READY, run a prediction, stream its output.

Every wait here is bounded. `wait_ready` also asks the caller whether the server process is still
alive, so a server that crashes at start-up fails fast with its own logs instead of a timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from cogkit.errors import PredictorError, UsageError

READY_TIMEOUT_S = 600.0
POLL_INTERVAL_S = 0.1
PREDICT_TIMEOUT_S = 24 * 3600.0

# Returns None while the server lives, else a description of how it died (e.g. its last log lines).
AliveCheck = Callable[[], str | None]


def wait_ready(
    url: str,
    *,
    alive: AliveCheck,
    timeout_s: float = READY_TIMEOUT_S,
    on_status: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Poll /health-check until READY; raise PredictorError with the setup logs if setup fails."""
    deadline = time.monotonic() + timeout_s
    last_status = ""
    with httpx.Client(base_url=url, timeout=5.0) as http:
        while time.monotonic() < deadline:
            death = alive()
            if death is not None:
                raise PredictorError(f"the server stopped before it was ready:\n{death}")
            try:
                health = http.get("/health-check").json()
            except (httpx.HTTPError, json.JSONDecodeError):
                health = {}
            status = str(health.get("status", ""))
            if status and status != last_status and on_status is not None:
                on_status(status)
            last_status = status or last_status
            if status in ("READY", "BUSY"):
                return health
            if status in ("SETUP_FAILED", "DEFUNCT"):
                raise PredictorError(
                    f"setup failed ({status}):\n{_indent(_setup_logs(health))}",
                    hint="fix the error in your predictor's setup(), then run again",
                )
            time.sleep(POLL_INTERVAL_S)
    raise PredictorError(
        f"the server was not ready after {timeout_s:.0f}s (last status: {last_status or 'no answer'})"
    )


def _setup_logs(health: dict[str, Any]) -> str:
    setup = health.get("setup") or {}
    logs = setup.get("logs") if isinstance(setup, dict) else None
    return str(logs or "(no setup logs)").rstrip()


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


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
    endpoint: str = "predictions",
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
            return _run_streaming(http, f"/{endpoint}", payload, on_output)
        try:
            response = http.post(f"/{endpoint}", json=payload)
        except httpx.HTTPError as exc:
            raise PredictorError(f"the server did not answer the {endpoint[:-1]}: {exc}") from exc
        return _response_json(response, endpoint)


def _response_json(response: httpx.Response, endpoint: str) -> dict[str, Any]:
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
    http: httpx.Client, path: str, payload: dict[str, Any], on_output: Callable[[Any], None]
) -> dict[str, Any]:
    final: dict[str, Any] | None = None
    chunks: list[Any] = []
    with http.stream("POST", path, json=payload, headers={"Accept": "text/event-stream"}) as response:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            response.read()
            return _response_json(response, path.strip("/"))
        for event, data in _events(response.iter_lines()):
            if event == "output":
                chunks.append(data)
                on_output(data)
            elif event == "completed":
                final = data if isinstance(data, dict) else None
    if final is None:
        raise PredictorError("the server closed the stream before the prediction completed")
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
