"""The generated probes and shutdown timing, driven against the real image as a kubelet would.

The image is built from tests/deploy/projects/probe-model, pushed to a real registry, deployed
with `cogkit.deploy.deploy` (so the Deployment names it by digest), and pulled by that digest.
Each test reads the container spec out of the generated Deployment (paths, ports, periods,
thresholds, env, preStop, grace) and hands it to tests/deploy/kubelet.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest

from cogkit.deploy import DeploySettings, deploy
from cogkit.registry import BlobCache, push_image
from tests.deploy.conftest import applied, by_kind
from tests.deploy.kubelet import Kubelet
from tests.registry.servers import Registry

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

PROJECT = Path(__file__).resolve().parent / "projects" / "probe-model"
SETUP_S = 20

StartPod = Callable[..., Kubelet]


@pytest.fixture(scope="module")
def pinned_image(
    build: Any,
    registry: Registry,
    docker_client: docker.DockerClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The probe model, pushed, and pulled back by the digest the manifests name."""
    built = build(PROJECT)
    target = f"{registry.host}/deploy/probe-model:v1"
    cache = BlobCache(tmp_path_factory.mktemp("probe-blobs"))
    pushed = push_image(target, source=built.tag, cache=cache, show_progress=False).reference
    name, _, digest = pushed.partition("@")
    by_digest = f"{name.rsplit(':', 1)[0]}@{digest}"
    docker_client.images.pull(by_digest)
    yield pushed
    docker_client.images.remove(by_digest)


@pytest.fixture
def start_pod(pinned_image: str, docker_client: docker.DockerClient) -> Iterator[StartPod]:
    started: list[Kubelet] = []

    def start(env: dict[str, str] | None = None, **settings: Any) -> Kubelet:
        manifests = deploy(pinned_image, DeploySettings(replicas=1, **settings))
        pod_spec = by_kind(applied(manifests))["Deployment"]["spec"]["template"]["spec"]
        (container,) = pod_spec["containers"]
        kubelet = Kubelet(docker_client, pod_spec, image=container["image"], extra_env=env or {})
        started.append(kubelet)
        kubelet.start()
        return kubelet

    yield start
    for kubelet in started:
        kubelet.remove()


def predict(kubelet: Kubelet, inputs: dict[str, Any], *, timeout: float = 120) -> httpx.Response:
    return httpx.post(f"{kubelet.http_url}/predictions", json={"input": inputs}, timeout=timeout)


def test_a_long_setup_passes_startup_and_readiness_waits_for_ready(start_pod: StartPod) -> None:
    kubelet = start_pod({"SETUP_SECONDS": str(SETUP_S)}, max_setup_s=90)
    startup = kubelet.spec["startupProbe"]
    window = startup["periodSeconds"] * startup["failureThreshold"]
    assert kubelet.wait_for(lambda: kubelet.ready, timeout=window + 30), kubelet.logs()
    assert startup["periodSeconds"] * (startup["failureThreshold"] - 1) >= 90  # the window setup() is sure of
    assert kubelet.started is not None and kubelet.started >= SETUP_S - 1
    answers = kubelet.answers_of("startup")
    *waiting, passed = answers
    assert passed.ok and passed.state == "READY"
    assert waiting and all(not a.ok and a.state in (None, "STARTING") for a in waiting)
    assert all(a.status == 503 for a in waiting if a.status is not None)  # up, but not ready
    assert len(waiting) < startup["failureThreshold"]

    # Busy (both slots taken) is still ready: the pod stays in the Service; overflow gets 409.
    busy = [threading.Thread(target=predict, args=(kubelet, {"seconds": 7})) for _ in range(2)]
    for thread in busy:
        thread.start()
    for thread in busy:
        thread.join(timeout=60)
    liveness_period = kubelet.spec["livenessProbe"]["periodSeconds"]
    time.sleep(liveness_period + 1)
    assert kubelet.killed is None, kubelet.logs()
    readiness = kubelet.answers_of("readiness")
    assert readiness and all(a.ok for a in readiness)
    assert {a.state for a in readiness} == {"READY", "BUSY"}
    assert all(a.ok and a.state in ("READY", "BUSY") for a in kubelet.answers_of("liveness"))


def test_setup_past_the_max_setup_time_is_killed(start_pod: StartPod) -> None:
    """The other side of the startup window: it has teeth."""
    max_setup = 8
    kubelet = start_pod({"SETUP_SECONDS": str(SETUP_S)}, max_setup_s=max_setup)
    kubelet.wait_for(lambda: kubelet.killed is not None, timeout=SETUP_S + 10)
    assert kubelet.killed is not None and kubelet.killed.reason == "startup", kubelet.logs()
    assert max_setup <= kubelet.killed.at < SETUP_S
    assert kubelet.started is None and not kubelet.ready


def test_a_worker_that_cannot_restart_fails_liveness(start_pod: StartPod) -> None:
    kubelet = start_pod({"FAIL_SECOND_SETUP": "1"})
    assert kubelet.wait_for(lambda: kubelet.ready, timeout=60), kubelet.logs()
    crashed = predict(kubelet, {"crash": True})
    assert crashed.json()["status"] == "failed"
    crashed_at = kubelet.now()
    liveness = kubelet.spec["livenessProbe"]
    deadline = liveness["periodSeconds"] * (liveness["failureThreshold"] + 1) + 15
    kubelet.wait_for(lambda: kubelet.killed is not None, timeout=deadline)
    assert kubelet.killed is not None and kubelet.killed.reason == "liveness", kubelet.logs()
    after = [a for a in kubelet.answers_of("liveness") if a.at > crashed_at]
    failing = after[-liveness["failureThreshold"] :]
    assert all(a.status == 503 and a.state == "DEFUNCT" for a in failing)
    assert not kubelet.ready  # readiness gave up first: no traffic while it waited to be killed


def test_sigterm_after_prestop_lets_an_in_flight_prediction_finish(start_pod: StartPod) -> None:
    """CONTRACTS.md: SIGTERM stops new work (503), lets in-flight work finish within the grace, exits.

    One of the two slots is busy, so new work sent after SIGTERM is refused by the drain, not as overflow.
    """
    kubelet = start_pod(max_prediction_s=30)
    assert kubelet.wait_for(lambda: kubelet.ready, timeout=60), kubelet.logs()
    work_s = 20  # longer than the preStop, well inside COGKIT_SHUTDOWN_GRACE
    outcome: dict[str, Any] = {}

    def in_flight() -> None:
        try:
            outcome["response"] = predict(kubelet, {"seconds": work_s}, timeout=90)
        except httpx.HTTPError as exc:
            outcome["error"] = repr(exc)
        outcome["at"] = kubelet.now()

    worker = threading.Thread(target=in_flight)
    worker.start()
    time.sleep(1)

    def try_new_work() -> None:
        time.sleep(1)  # the server notices the signal on its next tick; nobody can promise 0 ms
        try:
            outcome["late"] = predict(kubelet, {"seconds": 0}, timeout=10).status_code
        except httpx.HTTPError:
            outcome["late"] = "refused"

    termination = kubelet.delete_pod(after_sigterm=try_new_work)
    worker.join(timeout=90)
    logs = kubelet.logs()
    assert "response" in outcome, f"{outcome.get('error')}\n{logs}"
    response = outcome["response"]
    assert response.status_code == 200 and response.json()["status"] == "succeeded", logs
    assert response.json()["output"] == f"worked {float(work_s)}s"
    assert termination.sigterm_at < outcome["at"]  # it really was in flight at SIGTERM
    assert outcome["late"] in ("refused", 503), logs
    assert termination.exited_at is not None, f"SIGKILLed at the end of the grace period\n{logs}"
    assert termination.exit_code == 0
    assert outcome["at"] <= termination.exited_at
