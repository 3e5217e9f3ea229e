"""The docker runtime: run an image's server in a container on a free 127.0.0.1 port.

The container is always removed: on success, on failure, on Ctrl-C and on SIGTERM (which we turn
into KeyboardInterrupt while a container runs). Nothing is left behind for the user to clean up.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import docker.errors
from docker.models.containers import Container
from docker.types import DeviceRequest

from cogkit.errors import EngineError
from cogkit.image.engine import client
from cogkit.runtime.ports import free_port
from cogkit.runtime.signals import sigterm_as_interrupt

SERVER_PORT = 5000
OWNER_LABEL = "run.cogkit.owner"


@dataclass
class ContainerServer:
    """A running container and the URL of its server."""

    container: Container
    url: str
    port: int
    extra_ports: dict[int, int] = field(default_factory=dict)

    def alive(self) -> str | None:
        """None while running; otherwise its exit code and last log lines."""
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return "the container was removed"
        if self.container.status in ("created", "running"):
            return None
        return f"container exited ({self.container.attrs.get('State', {}).get('ExitCode')}):\n{self.logs(40)}"

    def logs(self, tail: int = 40) -> str:
        try:
            return self.container.logs(tail=tail).decode(errors="replace").rstrip()
        except docker.errors.APIError:
            return ""


def gpu_request(gpus: str | None) -> list[DeviceRequest]:
    """`--gpus all` / `--gpus 2` / `--gpus device=0,1` as the engine's device request."""
    if not gpus:
        return []
    if gpus == "all":
        return [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    if gpus.isdigit():
        return [DeviceRequest(count=int(gpus), capabilities=[["gpu"]])]
    ids = gpus.removeprefix("device=").split(",")
    return [DeviceRequest(device_ids=ids, capabilities=[["gpu"]])]


@contextlib.contextmanager
def run_container(
    image: str,
    *,
    command: Sequence[str] | None = None,
    environment: Mapping[str, str] | None = None,
    volumes: Mapping[str, str] | None = None,
    publish: Sequence[int] = (),
    serve_port: int | None = SERVER_PORT,
    host: str = "127.0.0.1",
    gpus: str | None = None,
    working_dir: str | None = None,
    interactive: bool = False,
    fixed_port: int | None = None,
) -> Iterator[ContainerServer]:
    """Start `image` detached, publish its server port on a free host port, and always remove it."""
    ports: dict[str, tuple[str, int]] = {}
    port = 0
    if serve_port is not None:
        port = fixed_port or free_port(host if host != "0.0.0.0" else "127.0.0.1")
        ports[f"{serve_port}/tcp"] = (host, port)
    extra = {p: p for p in publish}
    for p in publish:
        ports[f"{p}/tcp"] = (host, p)
    engine = client()
    name = f"cogkit-{uuid.uuid4().hex[:12]}"
    with sigterm_as_interrupt():
        try:
            container = engine.containers.run(
                image,
                command=list(command) if command else None,
                name=name,
                detach=True,
                environment=dict(environment or {}),
                volumes={src: {"bind": dst, "mode": "rw"} for src, dst in (volumes or {}).items()},
                ports=ports,
                device_requests=gpu_request(gpus),
                working_dir=working_dir,
                labels={OWNER_LABEL: "cogkit"},
                stdin_open=interactive,
                tty=False,
            )
        except docker.errors.ImageNotFound as exc:
            raise EngineError(
                f"image {image} not found", hint="build it with `cogkit build -t NAME`"
            ) from exc
        except docker.errors.APIError as exc:
            _remove(engine, name)
            raise EngineError(f"could not start a container from {image}: {exc.explanation or exc}") from exc
        try:
            yield ContainerServer(
                container=container, url=f"http://127.0.0.1:{port}", port=port, extra_ports=extra
            )
        finally:
            _remove(engine, name)


def _remove(engine: docker.DockerClient, name: str) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        engine.api.remove_container(name, force=True, v=True)
