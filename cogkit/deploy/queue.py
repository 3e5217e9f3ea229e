"""The queue URL (`redis://[user[:password]@]host:port/db?stream=NAME[&group=GROUP]`) as deploy needs it.

Two readers need it: the container (all of it, in `COGKIT_QUEUE_URL`) and KEDA's Redis Streams
scaler (address, database, stream and group, as separate fields). A password is never written in
plain text: it lives in a Secret, reaches the container through an env var that Kubernetes expands
inside the URL (`$(COGKIT_QUEUE_PASSWORD)`), and reaches KEDA through a TriggerAuthentication.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote, urlsplit

from cogkit.errors import UsageError

DEFAULT_GROUP = "cogkit"
DEFAULT_PORT = 6379
URL_ENV = "COGKIT_QUEUE_URL"
PASSWORD_ENV = "COGKIT_QUEUE_PASSWORD"
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")
_FORMAT_HINT = "use redis://[user@]HOST:PORT/DB?stream=NAME[&group=GROUP] (rediss:// for TLS)"


@dataclass(frozen=True)
class SecretKey:
    """One key of a Secret in the deployment's namespace."""

    name: str
    key: str = "password"

    @classmethod
    def parse(cls, text: str) -> SecretKey:
        """`NAME` or `NAME:KEY`."""
        name, colon, key = text.partition(":")
        if not _SECRET_NAME.match(name) or (colon and not _SECRET_KEY.match(key)):
            raise UsageError(
                f"--queue-password-secret {text!r} is not NAME or NAME:KEY of a Secret",
                hint="e.g. --queue-password-secret redis-auth (key `password`) or redis-auth:token",
            )
        return cls(name, key or "password")


@dataclass(frozen=True)
class QueueSettings:
    tls: bool
    host: str
    port: int
    database: int
    stream: str
    group: str
    username: str | None
    query: str  # as written, so parameters only the server knows travel unchanged
    password_secret: SecretKey | None = None

    @classmethod
    def parse(cls, url: str, *, password_secret: SecretKey | None = None) -> QueueSettings:
        parts = urlsplit(url)
        shown = _masked(url)
        if parts.scheme not in ("redis", "rediss"):
            raise UsageError(f"--queue {shown}: the scheme must be redis:// or rediss://", hint=_FORMAT_HINT)
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise UsageError(
                f"--queue {shown}: the port is not a number from 1 to 65535", hint=_FORMAT_HINT
            ) from None
        if not parts.hostname:
            raise UsageError(f"--queue {shown}: no host", hint=_FORMAT_HINT)
        db_text = parts.path.strip("/") or "0"
        if not db_text.isdigit():
            raise UsageError(f"--queue {shown}: the database {db_text!r} is not a number", hint=_FORMAT_HINT)
        query = parse_qs(parts.query)
        stream = (query.get("stream") or [""])[0]
        if not stream:
            raise UsageError(f"--queue {shown}: no ?stream=NAME", hint=_FORMAT_HINT)
        if parts.password is not None and password_secret is None:
            raise UsageError(
                f"--queue {shown} holds a password, which would be written in plain text into the manifests",
                hint="put it in a Secret (`kubectl create secret generic redis-auth --from-literal=password=…`), "
                "pass the URL without it, and add --queue-password-secret redis-auth",
            )
        if parts.password is not None:
            raise UsageError(
                f"--queue {shown} holds a password and --queue-password-secret names another",
                hint="remove the password from the URL; the Secret provides it",
            )
        return cls(
            tls=parts.scheme == "rediss",
            host=parts.hostname,
            port=port,
            database=int(db_text),
            stream=stream,
            group=(query.get("group") or [DEFAULT_GROUP])[0],
            username=unquote(parts.username) if parts.username else None,
            query=parts.query,
            password_secret=password_secret,
        )

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        return self.host in ("localhost", "::1") or self.host.startswith("127.")

    def container_url(self) -> str:
        """The URL the server reads; Kubernetes puts the Secret's password where `$(…)` stands."""
        user = quote(self.username, safe="") if self.username else ""
        if self.password_secret is not None:
            user += f":$({PASSWORD_ENV})"
        credentials = f"{user}@" if user else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{credentials}{self.address}/{self.database}?{self.query}"


def _masked(url: str) -> str:
    """The URL as it may be shown: any password replaced, so it never reaches a terminal or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username or ''}:***@{netloc}").geturl()
