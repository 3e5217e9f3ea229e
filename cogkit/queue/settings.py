"""Queue mode's settings: the address plus the few timings an operator may tune (environment only).

    COGKIT_QUEUE_URL               the queue (or `python -m cogkit.server --queue URL`)
    COGKIT_QUEUE_CLAIM_IDLE        seconds a message may go without a heartbeat before another
                                   replica claims it (default 15); live replicas heartbeat every third
    COGKIT_QUEUE_MAX_DELIVERIES    deliveries after which an unfinished message is dead-lettered (default 3)
    COGKIT_QUEUE_RESULT_TTL        seconds a stored result lives (default 86400, one day)

Standard library only, like the rest of the server's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cogkit.errors import UsageError
from cogkit.queue.address import QueueAddress, parse_queue_url

DEFAULT_CLAIM_IDLE = 15.0
DEFAULT_MAX_DELIVERIES = 3
DEFAULT_RESULT_TTL = 86400.0
# A blocked XREADGROUP returns at once when a message arrives; this only bounds how long a
# replica that was told to stop keeps a read open.
READ_BLOCK = 1.0


@dataclass(frozen=True)
class QueueSettings:
    address: QueueAddress
    claim_idle: float = DEFAULT_CLAIM_IDLE
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    result_ttl: float = DEFAULT_RESULT_TTL
    read_block: float = READ_BLOCK

    @property
    def heartbeat_interval(self) -> float:
        """How often a replica renews the messages it holds, and looks for abandoned ones."""
        return self.claim_idle / 3


def _positive(env: Mapping[str, str], name: str, default: float, *, whole: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number of seconds"
        raise UsageError(
            f"{name}={raw!r} is not {kind}", hint=f"unset {name} or set it to e.g. {default:g}"
        ) from None
    if value <= 0:
        raise UsageError(
            f"{name}={raw!r} must be above 0", hint=f"unset {name} or set it to e.g. {default:g}"
        )
    return value


def queue_settings(url: str, env: Mapping[str, str], *, source: str = "COGKIT_QUEUE_URL") -> QueueSettings:
    """Parse the URL and the tuning variables; every mistake is one UsageError naming the variable."""
    return QueueSettings(
        address=parse_queue_url(url, source=source),
        claim_idle=_positive(env, "COGKIT_QUEUE_CLAIM_IDLE", DEFAULT_CLAIM_IDLE),
        max_deliveries=int(_positive(env, "COGKIT_QUEUE_MAX_DELIVERIES", DEFAULT_MAX_DELIVERIES, whole=True)),
        result_ttl=_positive(env, "COGKIT_QUEUE_RESULT_TTL", DEFAULT_RESULT_TTL),
    )
