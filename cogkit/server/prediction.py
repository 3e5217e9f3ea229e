"""The prediction request and record: Cog's shapes, parsed and rendered without pydantic.

Parsing by hand keeps the hot path to one `json.loads` and a few type checks; the errors
still come back in FastAPI's `detail` shape so Cog clients read them the same way.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from cogkit.server.http_errors import RequestInvalid
from cogkit.server.webhooks import EVENTS, WebhookChannel

REDACTED = "**********"


@dataclass(frozen=True, slots=True)
class PredictionRequest:
    """`{id?, input, context?, webhook?, webhook_events_filter?}`; unknown keys are ignored, as Cog does."""

    input: dict[str, Any]
    id: str | None = None
    context: dict[str, str] | None = None
    webhook: str | None = None
    webhook_events_filter: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, body: bytes, *, path_id: str | None = None) -> PredictionRequest:
        """Decode and check a request body; raises RequestInvalid with one entry per bad field."""
        try:
            data = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError) as e:
            raise RequestInvalid(
                [{"loc": ["body"], "msg": f"request body is not valid JSON: {e}", "type": "json_invalid"}]
            ) from None
        if not isinstance(data, dict):
            raise RequestInvalid([_err(["body"], "request body must be a JSON object", "dict_type")])
        errors: list[dict[str, Any]] = []
        inputs = data.get("input")
        if inputs is None:
            inputs = {}
        elif not isinstance(inputs, dict):
            errors.append(_err(["body", "input"], "input must be an object of named inputs", "dict_type"))
        pid = data.get("id")
        if pid is not None and (not isinstance(pid, str) or not pid or len(pid) > 256 or "/" in pid):
            errors.append(_err(["body", "id"], "id must be a non-empty string without '/'", "string_type"))
        if path_id is not None:
            pid = path_id
        context = data.get("context")
        if context is not None and (
            not isinstance(context, dict) or not all(isinstance(v, str) for v in context.values())
        ):
            errors.append(_err(["body", "context"], "context must map names to strings", "dict_type"))
        webhook = data.get("webhook")
        if webhook is not None and (
            not isinstance(webhook, str) or not webhook.startswith(("http://", "https://"))
        ):
            errors.append(_err(["body", "webhook"], "webhook must be an http(s) URL", "url_parsing"))
        events = data.get("webhook_events_filter")
        if events is not None:
            if not isinstance(events, list) or not all(isinstance(e, str) and e in EVENTS for e in events):
                errors.append(
                    _err(
                        ["body", "webhook_events_filter"],
                        f"webhook_events_filter must be a list of {sorted(EVENTS)}",
                        "enum",
                    )
                )
            else:
                events = tuple(events)
        if errors:
            raise RequestInvalid(errors)
        return cls(input=inputs, id=pid, context=context, webhook=webhook, webhook_events_filter=events)


def _err(loc: list[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def new_id() -> str:
    return uuid.uuid4().hex


@dataclass(slots=True)
class Prediction:
    """One prediction or training, from request to completion."""

    id: str
    input: dict[str, Any]
    echo_input: dict[str, Any]
    created_at: str
    context: dict[str, str] | None = None
    status: str = "starting"
    output: Any = None
    logs: list[str] = field(default_factory=list)
    error: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    webhook: WebhookChannel | None = None
    stream: asyncio.Queue[tuple[str, Any]] | None = None
    cancel_requested: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    body: bytes | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "canceled")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "input": self.echo_input,
            "output": self.output,
            "logs": "".join(self.logs),
            "error": self.error,
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "metrics": self.metrics,
        }

    def encode(self) -> bytes:
        """The response body; once the prediction is complete it never changes, so it is kept."""
        if self.body is not None:
            return self.body
        data = json.dumps(self.to_json()).encode()
        if self.completed_at is not None:
            self.body = data
        return data


def redact(inputs: dict[str, Any], secrets: frozenset[str]) -> dict[str, Any]:
    """The input as echoed back: `Secret` values are never returned."""
    if not secrets or not secrets.intersection(inputs):
        return inputs
    return {k: (REDACTED if k in secrets and v is not None else v) for k, v in inputs.items()}
