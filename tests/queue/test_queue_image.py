"""A built image in queue mode: the container consumes from the host's Redis (host networking)."""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest
from queue_harness import RedisServer, free_port, wait_until

from cogkit.image.build import build_project
from cogkit.queue import Producer

EXAMPLE = Path(__file__).parents[2] / "examples" / "async-concurrent"
TAG = "cogkit-queue-e2e:latest"
PASSWORD = "s3cret-queue-pw"


@pytest.mark.docker
def test_a_built_image_consumes_from_the_hosts_redis(
    docker_client: docker.DockerClient,
    base_image: str,
    host_ca_cert: Path | None,
    queue_redis: RedisServer,
) -> None:
    built = build_project(EXAMPLE / "cog.yaml", tag=TAG, ca_cert=host_ca_cert)
    with queue_redis.client() as admin:
        admin.config_set("requirepass", PASSWORD)
    url = f"redis://:{PASSWORD}@127.0.0.1:{queue_redis.port}/0?stream=jobs"
    port = free_port()
    container = docker_client.containers.run(
        built.tag,
        command=[
            "/opt/cogkit/venv/bin/python",
            "-m",
            "cogkit.server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        environment={"COGKIT_QUEUE_URL": url, "COGKIT_QUEUE_CLAIM_IDLE": "2"},
        network_mode="host",
        detach=True,
    )
    try:
        with Producer(url) as producer:
            ids = [producer.submit({"text": f"queue-{n}", "wait": 0.2}) for n in range(8)]
            for n, pid in enumerate(ids):
                result = producer.result(pid, wait=120)
                assert result is not None, container.logs().decode(errors="replace")
                assert (result["status"], result["output"]) == ("succeeded", f"queue-{n}"[::-1])
            # SIGTERM with a prediction in flight: it finishes, then the container exits cleanly.
            slow = producer.submit({"text": "slow", "wait": 2})
            wait_until(
                lambda: producer.status(slow)["status"] == "processing", timeout=30, what="slow to start"
            )
            started = time.monotonic()
            container.stop(timeout=30)
            assert container.wait(timeout=30)["StatusCode"] == 0
            assert time.monotonic() - started < 15
            result = producer.result(slow)
            assert result is not None and result["status"] == "succeeded"
        logs = container.logs().decode(errors="replace")
        assert "consuming from redis://" in logs and "@127.0.0.1" in logs and PASSWORD not in logs
    finally:
        container.remove(force=True)
