"""The container every target runs: image, port, environment, resources, probes and shutdown timing.

Probes follow the server's states (see `cogkit/server/app.py`):

    state          /readyz   /livez    what the kubelet does
    STARTING       503       200       startup probe keeps waiting, up to the max setup time
    READY, BUSY    200       200       traffic flows
    UNHEALTHY      503       200       out of the Service until the user's healthcheck() passes
    SETUP_FAILED   503       503       restarted (after the startup window, or by liveness)
    DEFUNCT        503       503       restarted: the worker died and could not be brought back

Shutdown, on Kubernetes, is a timeline the kubelet runs inside `terminationGracePeriodSeconds`:

    0                preStop `sleep PRESTOP_S`: endpoints and proxies stop sending new requests
    PRESTOP_S        SIGTERM: the server refuses new work, lets in-flight predictions finish for up to
                     COGKIT_SHUTDOWN_GRACE seconds, cancels the rest (each gets its answer), exits
    PRESTOP_S + grace + EXIT_MARGIN_S     SIGKILL, which a well-behaved server never sees
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cogkit.deploy.queue import PASSWORD_ENV, URL_ENV, QueueSettings
from cogkit.server.supervisor import HEALTHCHECK_TIMEOUT

CONTAINER_NAME = "model"
PORT = 5000  # the image's server listens here (`python -m cogkit.server` default)
PORT_NAME = "http"
GRACE_ENV = "COGKIT_SHUTDOWN_GRACE"

STARTUP_PERIOD_S = 5
READINESS_PERIOD_S = 5
READINESS_FAILURES = 2  # out of the Service within ~10 s of becoming unable to take work
LIVENESS_PERIOD_S = 10
LIVENESS_FAILURES = 3  # 30 s of DEFUNCT before a restart: long enough to ride out one slow answer
LIVENESS_TIMEOUT_S = 5  # /livez reads one attribute; only a stalled event loop takes this long
# /readyz runs the user's healthcheck() (bounded by the server) when the model is idle; the probe must
# not give up before the server does, or a slow but healthy check would read as "not ready".
READINESS_TIMEOUT_S = math.ceil(HEALTHCHECK_TIMEOUT) + 1
PRESTOP_S = 5  # how long kube-proxy and ingress controllers take to drop a terminating pod
EXIT_MARGIN_S = 10  # after the grace: cancel what is left, send each its answer, stop the worker


@dataclass(frozen=True)
class Timing:
    """Setup and prediction time limits, and every probe and shutdown number derived from them."""

    max_setup_s: int
    max_prediction_s: int

    @property
    def shutdown_grace_s(self) -> int:
        """In-flight predictions get as long to finish as any prediction may take."""
        return self.max_prediction_s

    @property
    def termination_grace_s(self) -> int:
        return PRESTOP_S + self.shutdown_grace_s + EXIT_MARGIN_S

    def startup_probe(self, port: str = PORT_NAME) -> dict[str, Any]:
        """Passes once setup() is done (READY); fails the container after `max_setup_s` without it.

        The kubelet's first probe comes anywhere up to one period after the container starts, and
        it kills at the Nth consecutive failure, so N failures guarantee only (N - 1) periods.
        """
        return _http_probe(
            "/readyz",
            port,
            period=STARTUP_PERIOD_S,
            timeout=READINESS_TIMEOUT_S,
            failures=math.ceil(self.max_setup_s / STARTUP_PERIOD_S) + 1,
        )

    def readiness_probe(self, port: str = PORT_NAME) -> dict[str, Any]:
        return _http_probe(
            "/readyz",
            port,
            period=READINESS_PERIOD_S,
            timeout=READINESS_TIMEOUT_S,
            failures=READINESS_FAILURES,
        )

    def liveness_probe(self, port: str = PORT_NAME) -> dict[str, Any]:
        return _http_probe(
            "/livez", port, period=LIVENESS_PERIOD_S, timeout=LIVENESS_TIMEOUT_S, failures=LIVENESS_FAILURES
        )

    @staticmethod
    def pre_stop() -> dict[str, Any]:
        # An exec hook rather than the newer `sleep` action, which clusters before 1.30 reject;
        # every cogkit image has coreutils' sleep.
        return {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_S)]}}}


def _http_probe(path: str, port: str, *, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "successThreshold": 1,
        "failureThreshold": failures,
    }


def environment(timing: Timing, queue: QueueSettings | None) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": GRACE_ENV, "value": str(timing.shutdown_grace_s)}]
    if queue is not None:
        if queue.password_secret is not None:
            # Must come before the URL: Kubernetes expands $(NAME) only from variables defined earlier.
            ref = {"name": queue.password_secret.name, "key": queue.password_secret.key}
            env.append({"name": PASSWORD_ENV, "valueFrom": {"secretKeyRef": ref}})
        env.append({"name": URL_ENV, "value": queue.container_url()})
    return env


def resources(*, cpu: str | None, memory: str | None, gpus: int) -> dict[str, Any]:
    """CPU as a request only (a CPU limit throttles model code in bursts); memory requested and capped."""
    requests: dict[str, str] = {}
    limits: dict[str, Any] = {}
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = limits["memory"] = memory
    if gpus:
        limits["nvidia.com/gpu"] = gpus  # extended resources: the request defaults to the limit
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out
