"""Every bound the server puts on what a client can make it do, in one frozen object.

Each limit is one field with its default, its environment variable and its flag, so the
flags of `python -m cogkit.server`, the environment lookup and the table in docs/http-api.md
all come from the same place (a test checks the docs name every variable). Flags beat the
environment; both beat the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cogkit.errors import UsageError

MiB = 1 << 20


def _limit(default: Any, env: str, text: str) -> Any:
    return field(default=default, metadata={"env": env, "help": text})


@dataclass(frozen=True)
class Limits:
    # Connections (enforced by the HTTP protocol, before any handler runs).
    max_connections: int = _limit(
        1000, "COGKIT_MAX_CONNECTIONS", "open client connections (at most 3/4 of the open-file limit)"
    )
    header_timeout: float = _limit(
        10.0, "COGKIT_HEADER_TIMEOUT", "seconds a client has to send a request's headers"
    )
    body_timeout: float = _limit(60.0, "COGKIT_BODY_TIMEOUT", "seconds a client has to send a request's body")
    keep_alive_timeout: float = _limit(
        5.0, "COGKIT_KEEP_ALIVE_TIMEOUT", "seconds an idle keep-alive connection stays open"
    )
    max_body_bytes: int = _limit(100 * MiB, "COGKIT_MAX_BODY_BYTES", "bytes in one request body (413 above)")
    # Predictions.
    start_wait: float = _limit(
        60.0, "COGKIT_START_WAIT", "seconds a prediction waits for setup or a worker restart (then 503)"
    )
    download_timeout: float = _limit(
        300.0, "COGKIT_DOWNLOAD_TIMEOUT", "seconds for all file downloads of one prediction"
    )
    max_download_bytes: int = _limit(
        1024 * MiB, "COGKIT_MAX_DOWNLOAD_BYTES", "bytes in one downloaded input file"
    )
    max_output_bytes: int = _limit(
        256 * MiB, "COGKIT_MAX_OUTPUT_BYTES", "bytes of output one prediction may produce (JSON)"
    )
    max_output_file_bytes: int = _limit(
        100 * MiB, "COGKIT_MAX_OUTPUT_FILE_BYTES", "bytes in one output file returned as a data URI"
    )
    max_log_bytes: int = _limit(
        16 * MiB, "COGKIT_MAX_LOG_BYTES", "bytes of logs kept per prediction (the oldest are dropped)"
    )
    stream_buffer: int = _limit(
        10_000, "COGKIT_STREAM_BUFFER", "server-sent events queued for one slow client"
    )
    finished_cache_bytes: int = _limit(
        256 * MiB,
        "COGKIT_FINISHED_CACHE_BYTES",
        "bytes of finished predictions kept for GET and idempotent PUT",
    )
    # Webhooks.
    webhook_attempts: int = _limit(12, "COGKIT_WEBHOOK_ATTEMPTS", "attempts to deliver a `completed` webhook")
    webhook_timeout: float = _limit(
        300.0, "COGKIT_WEBHOOK_TIMEOUT", "seconds to keep retrying a `completed` webhook"
    )
    # Shutdown.
    shutdown_grace: float = _limit(
        10.0, "COGKIT_SHUTDOWN_GRACE", "seconds running predictions get after SIGTERM"
    )

    @classmethod
    def fields(cls) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(cls)

    @classmethod
    def resolve(cls, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Limits:
        """Flags (None = not given), then environment variables, then the defaults."""
        flags = flags or {}
        env = env or {}
        values: dict[str, Any] = {}
        for f in cls.fields():
            given = flags.get(f.name)
            if given is not None:
                values[f.name] = _check(f, given, f"--{flag_name(f)}")
                continue
            raw = env.get(f.metadata["env"], "").strip()
            if raw:
                values[f.name] = _parse(f, raw)
        return cls(**values)


def flag_name(f: dataclasses.Field[Any]) -> str:
    return f.name.replace("_", "-")


def _parse(f: dataclasses.Field[Any], raw: str) -> Any:
    name = f.metadata["env"]
    kind = int if f.type in ("int", int) else float
    try:
        value = kind(raw)
    except ValueError:
        unit = "a whole number" if kind is int else "a number of seconds"
        raise UsageError(
            f"environment variable {name}={raw!r} is not {unit}",
            hint=f"set {name} to {unit}, e.g. {name}={f.default}",
        ) from None
    return _check(f, value, name)


def _check(f: dataclasses.Field[Any], value: Any, source: str) -> Any:
    if value <= 0:
        raise UsageError(f"{source}={value!r} must be above 0", hint=f"the default is {f.default}")
    return value
