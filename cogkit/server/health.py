"""The model's state as /health-check, /readyz and /livez report it: one closed set of names.

Cog's names, so Cog clients and Replicate's tooling read them unchanged:

    STARTING ──setup ok──▶ READY ◀──▶ BUSY (all slots in use)
       │                    │  ▲
       │                    │  └── UNHEALTHY while the predictor's healthcheck() says so
       └─setup failed─▶ SETUP_FAILED
                            └─worker died or SIGHUP─▶ STARTING ──setup failed again──▶ DEFUNCT

Standard library only: the supervisor, which must not import the HTTP stack, uses it too.
"""

from __future__ import annotations

import enum


class Health(str, enum.Enum):
    STARTING = "STARTING"
    READY = "READY"
    BUSY = "BUSY"
    UNHEALTHY = "UNHEALTHY"
    SETUP_FAILED = "SETUP_FAILED"
    DEFUNCT = "DEFUNCT"

    @property
    def takes_work(self) -> bool:
        """Readiness (/readyz): a new prediction would be admitted now, or once a slot frees."""
        return self in (Health.READY, Health.BUSY)

    @property
    def alive(self) -> bool:
        """Liveness (/livez): false once only restarting the container can help."""
        return self not in (Health.SETUP_FAILED, Health.DEFUNCT)
