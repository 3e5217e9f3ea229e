"""Every built image serves the playground: its files travel in the image's server payload."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from cogkit.image.build import build_project
from cogkit.playground import assets
from tests.playground.conftest import EXAMPLES, free_port, open_playground, run_and_wait

READY_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def hello_container(
    docker_client: docker.DockerClient,
    base_image: str,
    host_ca_cert: Path | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    project = tmp_path_factory.mktemp("image") / "hello-world"
    shutil.copytree(
        EXAMPLES / "hello-world", project, ignore=shutil.ignore_patterns(".cogkit", "__pycache__")
    )
    tag = f"cogkit-playground-test:{uuid.uuid4().hex[:8]}"
    built = build_project(project / "cog.yaml", tag=tag, ca_cert=host_ca_cert)
    port = free_port()
    container = docker_client.containers.run(built.tag, detach=True, ports={"5000/tcp": ("127.0.0.1", port)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health-check", timeout=5).json().get("status") == "READY":
                    break
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.2)
        else:
            raise AssertionError(f"the container never became READY:\n{container.logs().decode()[-3000:]}")
        yield url
    finally:
        container.remove(force=True)
        docker_client.images.remove(built.tag, force=True)


@pytest.mark.docker
def test_a_built_image_serves_the_playground(hello_container: str, page: Any) -> None:
    for name, asset in assets.load().items():
        path = "/playground" if name == "index.html" else f"/playground/assets/{name}"
        answer = httpx.get(hello_container + path)
        assert answer.status_code == 200 and answer.content == asset.body, name
    assert httpx.get(hello_container + "/").json()["openapi_url"] == "/openapi.json"
    open_playground(page, hello_container)
    page.get_by_label("text").fill("image")
    assert run_and_wait(page).startswith("succeeded")
    assert page.locator("#output pre.text").inner_text() == "hello image"
