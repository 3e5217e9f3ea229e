"""What a registry's answer says: its error message and codes, and when it asks us to come back.

Registries answer errors as `{"errors": [{"code": "DENIED", "message": "…"}]}` (the distribution
spec); token services and proxies answer `{"details": …}`, `{"error": …}` or plain text. Every
module that turns an answer into a RegistryError reads it through here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

import httpx

MAX_MESSAGE = 200  # characters of a registry's own text that reach an error line


def message(response: httpx.Response) -> str:
    """The registry's own words for what went wrong, shortened to one readable piece."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:MAX_MESSAGE] or response.reason_phrase
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors and isinstance(errors, list):
        return "; ".join(str(e.get("message") or e.get("code")) for e in errors if isinstance(e, dict))
    if isinstance(body, dict):
        return str(body.get("details") or body.get("error") or body)[:MAX_MESSAGE]
    return str(body)[:MAX_MESSAGE]


def codes(response: httpx.Response) -> list[str]:
    """The distribution-spec error codes (`NAME_UNKNOWN`, `DENIED`, …) in the answer."""
    try:
        errors = response.json().get("errors") or []
        return [str(e.get("code", "")) for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError):
        return []


def retry_after(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """Seconds the registry asked us to wait (`Retry-After: 5` or an HTTP date), or None."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
