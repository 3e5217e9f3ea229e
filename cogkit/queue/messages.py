"""Stream entries in, prediction requests and final predictions out.

A message is one stream entry with the field `value` holding Cog's prediction request body,
as Cog's own queue worker took it:

    XADD predictions * value '{"id": "p1", "input": {"text": "hi"}, "webhook": "https://…"}'

`id` is optional: without one, the entry id that XADD returned names the prediction. Everything
in an entry is hostile: bytes that are not UTF-8, JSON nested past the recursion limit and wrong
types all end as `MessageInvalid`, which the consumer dead-letters instead of crashing on.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cogkit.queue.address import FIELD
from cogkit.server.http_errors import BadRequest, RequestInvalid
from cogkit.server.prediction import PredictionRequest


@dataclass(frozen=True)
class Entry:
    """One stream entry as read or claimed; `fields` is None when the entry was deleted (XDEL)."""

    entry_id: str
    fields: dict[bytes, bytes] | None
    deliveries: int = 1

    @property
    def value(self) -> bytes | None:
        return None if self.fields is None else self.fields.get(FIELD.encode())


class MessageInvalid(Exception):
    """The entry is not a prediction request; `prediction_id` is where its failed result goes."""

    def __init__(self, prediction_id: str, reason: str) -> None:
        super().__init__(reason)
        self.prediction_id = prediction_id
        self.reason = reason


def to_request(entry: Entry) -> PredictionRequest:
    """The prediction request in an entry, its id defaulting to the entry id."""
    raw = entry.value
    if raw is None:
        raise MessageInvalid(entry.entry_id, f"the entry has no {FIELD!r} field holding the request JSON")
    try:
        request = PredictionRequest.parse(raw)
    except RequestInvalid as e:
        raise MessageInvalid(_salvage_id(raw) or entry.entry_id, describe(e.detail)) from None
    except BadRequest as e:  # not JSON, or nested too deeply to read: the same words as HTTP's 400
        raise MessageInvalid(entry.entry_id, str(e)) from None
    if request.id is None:
        request = dataclasses.replace(request, id=entry.entry_id)
    return request


def _salvage_id(raw: bytes) -> str | None:
    """The id of a request that is otherwise invalid, so its failed result lands where it is awaited."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    pid = data.get("id") if isinstance(data, dict) else None
    if isinstance(pid, str) and 0 < len(pid) <= 256 and "/" not in pid:
        return pid
    return None


def describe(detail: list[dict[str, Any]]) -> str:
    """FastAPI-style validation entries as one line: `input.steps: must be at most 50; …`."""
    parts = []
    for item in detail:
        loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
        parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
    return "; ".join(parts) or "invalid request"


def failed_prediction(prediction_id: str, error: str, *, status: str = "failed") -> bytes:
    """The final prediction for a request that never ran; its input is not echoed (it may hold secrets)."""
    now = datetime.now(timezone.utc).isoformat()
    body = {
        "id": prediction_id,
        "input": {},
        "output": None,
        "logs": "",
        "error": error,
        "status": status,
        "created_at": now,
        "started_at": None,
        "completed_at": now,
        "metrics": {},
    }
    return json.dumps(body).encode()
