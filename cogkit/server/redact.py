"""Keep credentials and signed URLs out of logs and prediction errors.

Clients hand the server URLs that carry secrets: `https://user:pass@host/…`, pre-signed
object-store links (`?X-Amz-Signature=…`, `?sig=…`, `?token=…`), webhook tokens. Any of them may
end up in a log line (a failed webhook, a traceback) or in a prediction's `error`. Two layers:

* `redact_url` / `redact_text`, called where a URL enters a message or an error;
* `RedactingFilter`, installed on every handler of the root logger, so that no log line the
  server process writes (its own, uvicorn's, httpx's, a traceback) carries one in clear.

A URL keeps its scheme, host, port and path (what one needs to debug); the user info becomes
`***@` and every query value `***`, whatever the parameter is called.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# A URL in free text: a scheme, then anything up to whitespace, a quote or a bracket, less
# the punctuation that ends a sentence or a clause.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s'\"<>`]*[^\s'\"<>`.,:;!?)\]]")
_QUERY_VALUE = re.compile(r"=[^&;]*")


def redact_url(url: str) -> str:
    """The URL without its user info and query values; the input itself if it has neither."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = _QUERY_VALUE.sub("=" + MASK, parts.query) if parts.query else ""
    if query and "=" not in parts.query:
        query = MASK  # a bare `?secret`
    if netloc == parts.netloc and query == parts.query and not parts.fragment:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def redact_text(text: str) -> str:
    """`text` with every URL in it redacted."""
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback with `redact_text` before any handler formats it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean is not message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put one `RedactingFilter` on every handler of `logger` (default: the root logger)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
