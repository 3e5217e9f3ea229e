"""A small kubelet: runs a container of a generated pod spec in Docker and probes it the kubelet's way.

What it copies from the kubelet (pkg/kubelet/prober and the container lifecycle):

* HTTP probes: GET http://<pod>:<port><path>; success is a status in [200, 400) within
  `timeoutSeconds`; a refused connection or a timeout is a failure.
* Each probe runs in its own worker, every `periodSeconds`, from container start.
* Until the startup probe has succeeded once, liveness and readiness do not run and the
  container is not ready. `failureThreshold` consecutive startup or liveness failures kill the
  container; readiness flips after `failureThreshold` failures / `successThreshold` successes.
* Deleting the pod: the preStop hook runs to completion, then SIGTERM, then SIGKILL once
  `terminationGracePeriodSeconds` (counted from the start of preStop) is spent.

It records what happened (with the body of each probe answer) instead of restarting, so a test
can say when the container became ready and whether, when and why it was killed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors
import httpx
import requests

POLL_S = 0.1


@dataclass(frozen=True)
class Probe:
    path: str
    port: int
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int

    @classmethod
    def from_spec(cls, spec: dict[str, Any], ports: dict[str, int]) -> Probe:
        get = spec["httpGet"]
        port = get["port"]
        return cls(
            path=get["path"],
            port=ports[port] if isinstance(port, str) else int(port),
            period=spec.get("periodSeconds", 10),
            timeout=spec.get("timeoutSeconds", 1),
            success_threshold=spec.get("successThreshold", 1),
            failure_threshold=spec.get("failureThreshold", 3),
        )


@dataclass(frozen=True)
class Answer:
    """One probe's outcome, `at` seconds after the container started."""

    probe: str
    at: float
    ok: bool
    status: int | None  # None: refused or timed out
    state: str | None  # the server's {"status": …} body, when it sent one


@dataclass
class Kill:
    reason: str  # "startup" or "liveness"
    at: float


@dataclass
class Termination:
    pre_stop_done_at: float
    sigterm_at: float
    exited_at: float | None  # None: still running at the end of the grace period, so SIGKILLed
    exit_code: int | None


@dataclass
class Kubelet:
    client: docker.DockerClient
    pod_spec: dict[str, Any]
    image: str
    extra_env: dict[str, str] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    killed: Kill | None = None
    started: float | None = None  # when the startup probe first passed
    ready: bool = False
    container: Any = None

    def __post_init__(self) -> None:
        (self.spec,) = self.pod_spec["containers"]
        self.ports = {p["name"]: p["containerPort"] for p in self.spec["ports"]}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # -- the container ---------------------------------------------------------------------------

    def start(self) -> None:
        env = {e["name"]: e["value"] for e in self.spec.get("env", []) if "value" in e}
        env.update(self.extra_env)
        self.container = self.client.containers.run(
            self.image,
            detach=True,
            environment=env,
            ports={f"{port}/tcp": ("127.0.0.1", None) for port in self.ports.values()},
        )
        self.t0 = time.monotonic()
        self.container.reload()
        self.host_ports = {
            port: int(self.container.ports[f"{port}/tcp"][0]["HostPort"]) for port in self.ports.values()
        }
        self._run_worker("startup", Probe.from_spec(self.spec["startupProbe"], self.ports))

    def url(self, port: int, path: str) -> str:
        return f"http://127.0.0.1:{self.host_ports[port]}{path}"

    @property
    def http_url(self) -> str:
        return self.url(next(iter(self.ports.values())), "")

    def now(self) -> float:
        return time.monotonic() - self.t0

    def logs(self) -> str:
        try:
            return self.container.logs().decode(errors="replace")[-6000:]
        except docker.errors.APIError:
            return "(no logs)"

    def remove(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        if self.container is not None:
            with contextlib.suppress(docker.errors.APIError):
                self.container.remove(force=True)

    # -- probing ---------------------------------------------------------------------------------

    def _run_worker(self, kind: str, probe: Probe) -> None:
        thread = threading.Thread(target=self._worker, args=(kind, probe), daemon=True, name=f"probe-{kind}")
        self._threads.append(thread)
        thread.start()

    def _check(self, kind: str, probe: Probe) -> Answer:
        at = self.now()
        try:
            response = httpx.get(self.url(probe.port, probe.path), timeout=probe.timeout)
        except httpx.HTTPError:
            return Answer(kind, at, False, None, None)
        try:
            state = response.json().get("status")
        except (ValueError, AttributeError):
            state = None
        return Answer(kind, at, 200 <= response.status_code < 400, response.status_code, state)

    def _worker(self, kind: str, probe: Probe) -> None:
        successes = failures = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            next_at += probe.period
            answer = self._check(kind, probe)
            with self._lock:
                if self._stop.is_set():
                    return
                self.answers.append(answer)
                successes, failures = (successes + 1, 0) if answer.ok else (0, failures + 1)
                if kind == "startup" and successes >= 1:
                    self.started = answer.at
                    self._run_worker("liveness", Probe.from_spec(self.spec["livenessProbe"], self.ports))
                    self._run_worker("readiness", Probe.from_spec(self.spec["readinessProbe"], self.ports))
                    return
                if kind in ("startup", "liveness") and failures >= probe.failure_threshold:
                    self.killed = Kill(kind, answer.at)
                    self._stop.set()
                    return
                if kind == "readiness":
                    if successes >= probe.success_threshold:
                        self.ready = True
                    elif failures >= probe.failure_threshold:
                        self.ready = False

    def wait_for(self, condition: Any, timeout: float) -> bool:
        """Poll `condition()` until it holds or `timeout` seconds pass (or the container is killed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if condition():
                    return True
                if self.killed is not None:
                    return False
            time.sleep(POLL_S)
        return False

    def answers_of(self, kind: str) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.probe == kind]

    # -- deletion --------------------------------------------------------------------------------

    def delete_pod(self, *, after_sigterm: Callable[[], None] | None = None) -> Termination:
        """preStop to completion, SIGTERM, then SIGKILL if the grace period runs out."""
        self._stop.set()  # probes stop mattering once the pod is terminating
        grace = self.pod_spec["terminationGracePeriodSeconds"]
        begun = time.monotonic()
        hook = self.spec["lifecycle"]["preStop"]["exec"]["command"]
        self.container.exec_run(hook)
        pre_stop_done = self.now()
        self.container.kill(signal="SIGTERM")
        sigterm = self.now()
        if after_sigterm is not None:
            after_sigterm()
        left = grace - (time.monotonic() - begun)
        try:
            result = self.container.wait(timeout=max(left, 0.1))
            return Termination(pre_stop_done, sigterm, self.now(), result.get("StatusCode"))
        except (requests.exceptions.RequestException, docker.errors.APIError):  # grace spent: SIGKILL
            self.container.kill(signal="SIGKILL")
            return Termination(pre_stop_done, sigterm, None, None)
