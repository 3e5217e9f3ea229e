"""Where a queue lives: the Redis URL, the stream and group, and every key name derived from them.

    redis://[user:pass@]host:port/db?stream=NAME[&group=GROUP]     (rediss:// for TLS)

All names hang off the stream name, so one Redis database can hold many queues:

    NAME                 the stream producers XADD prediction requests to, in the field `value`
    NAME:dead            the dead-letter stream (poison and malformed messages, with the error)
    NAME:result:<id>     the final prediction as JSON, with a TTL; written once per id
    NAME:cancel:<id>     a key that cancels <id> before it runs; NAME:cancel is the channel for running ones
    NAME:running         a hash of the ids being run now → the consumer running each
    NAME:done            a channel that carries each id whose result was just stored
    NAME:schema          the model's OpenAPI document, written by each consumer as it starts

Standard library only: the server parses the URL before it imports anything heavy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from cogkit.errors import UsageError

DEFAULT_GROUP = "cogkit"
FIELD = "value"  # the entry field holding the request JSON, as in Cog's own queue worker
SCHEMES = ("redis", "rediss")
EXAMPLE = "redis://localhost:6379/0?stream=predictions"
_NAME = re.compile(r"[^\x00-\x20\x7f]{1,200}")  # printable, no spaces: names end up in YAML and logs


@dataclass(frozen=True)
class QueueAddress:
    """A parsed queue URL; `redis_url` is what redis-py connects to (no stream or group in it)."""

    redis_url: str
    stream: str
    group: str = DEFAULT_GROUP

    @property
    def dead(self) -> str:
        return f"{self.stream}:dead"

    def result_key(self, prediction_id: str) -> str:
        return f"{self.stream}:result:{prediction_id}"

    def cancel_key(self, prediction_id: str) -> str:
        return f"{self.stream}:cancel:{prediction_id}"

    @property
    def cancel_channel(self) -> str:
        return f"{self.stream}:cancel"

    @property
    def running(self) -> str:
        return f"{self.stream}:running"

    @property
    def done_channel(self) -> str:
        return f"{self.stream}:done"

    @property
    def schema_key(self) -> str:
        return f"{self.stream}:schema"

    @property
    def display(self) -> str:
        """The URL for messages and logs: the password never appears."""
        return f"{redact(self.redis_url)} stream={self.stream} group={self.group}"


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def parse_queue_url(url: str, *, source: str = "--queue") -> QueueAddress:
    """Check a queue URL and split it into the connection URL and the stream and group names."""

    def bad(problem: str, hint: str = f"e.g. {EXAMPLE}") -> UsageError:
        return UsageError(f"{source} {redact(url)!r}: {problem}", hint=hint)

    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 (raises ValueError when the port is not a number)
    except ValueError as e:
        raise bad(f"not a URL ({e})") from None
    if parts.scheme not in SCHEMES:
        raise bad(f"the scheme must be one of {', '.join(s + '://' for s in SCHEMES)}")
    if not parts.hostname:
        raise bad("no host")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise bad(f"the path must be a database number, not {parts.path!r}", hint=f"e.g. {EXAMPLE}")
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in ("stream", "group"):
            raise bad(f"unknown parameter {key!r}", hint="the only parameters are stream= and group=")
        if key in query:
            raise bad(f"{key}= is given twice")
        query[key] = value
    stream = query.get("stream")
    if not stream:
        raise bad("no stream name", hint=f"add ?stream=NAME, e.g. {EXAMPLE}")
    group = query.get("group", DEFAULT_GROUP)
    for key, value in (("stream", stream), ("group", group)):
        if not _NAME.fullmatch(value):
            raise bad(f"{key}={value!r} must be 1-200 printable characters without spaces")
    redis_url = urlunsplit(parts._replace(query="", fragment=""))
    return QueueAddress(redis_url=redis_url, stream=stream, group=group)
