"""The docker runtime: an image's server in a container on 127.0.0.1, always removed.

The container is created as `docker run -i --rm` would: stdin open and closed after its one
attached client leaves (StdinOnce), auto-removed when it exits. We attach before it starts and
hold that connection for its lifetime; the server runs with COGKIT_EXIT_ON_STDIN_EOF=1. So when
this process ends, however it ends (SIGKILL included), the kernel closes the connection, the
engine closes the server's stdin, the server shuts down and the engine removes the container.
The same connection carries the server's output, which we read line by line as it comes.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import docker.errors
from docker.types import DeviceRequest
from docker.utils.socket import frames_iter

from cogkit.errors import EngineError, UsageError
from cogkit.image.engine import builder, client
from cogkit.runtime.backend import (
    EXIT_ON_STDIN_EOF,
    SOURCE_DIR,
    Notice,
    Progress,
    Report,
    RunConfig,
    Runtime,
    ServerLine,
    ServerOptions,
    Target,
    ignore,
)
from cogkit.runtime.logs import LinePump
from cogkit.runtime.ports import free_port

SERVER_PORT = 5000
OWNER_LABEL = "run.cogkit.owner"
STOP_GRACE_S = 10
SERVER_PYTHON = "/opt/cogkit/venv/bin/python"


class ContainerServer:
    """A container running a server, tied to us by its attached stdin; it removes itself on exit."""

    def __init__(self, container_id: str, *, url: str, port: int, report: Report = ignore) -> None:
        self.engine = client()
        self.id = container_id
        self.url = url
        self.port = port
        self._pump = LinePump(lambda line: report(ServerLine(line)))
        # Attached before start, so no early output is lost and our end of stdin exists from the start.
        self._socket = self.engine.api.attach_socket(
            container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        self._pump.follow(data for _, data in frames_iter(self._socket, tty=False))

    def alive(self) -> str | None:
        """None while running; otherwise its exit code (when the engine still knows it) and last lines."""
        try:
            state = self.engine.api.inspect_container(self.id)["State"]
        except docker.errors.NotFound:
            self._pump.wait(2.0)
            return f"the container exited:\n{self.logs()}"
        if state.get("Status") in ("created", "running"):
            return None
        self._pump.wait(2.0)
        return f"container exited ({state.get('ExitCode')}):\n{self.logs()}"

    def logs(self, tail: int = 40) -> str:
        return self._pump.tail(tail)

    def reload(self) -> None:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self.engine.api.kill(self.id, signal="SIGHUP")

    def stop(self) -> None:
        """SIGTERM with a grace period (the engine sends SIGKILL after it), then make sure it is gone."""
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self.engine.api.stop(self.id, timeout=STOP_GRACE_S)
        remove(self.engine, self.id)
        with contextlib.suppress(OSError):
            self._socket.close()
        self._pump.wait(2.0)


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


def start_container(
    image: str,
    *,
    command: Sequence[str] | None = None,
    environment: Mapping[str, str] | None = None,
    volumes: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    gpus: str | None = None,
    report: Report = ignore,
) -> ContainerServer:
    """Create, attach and start a server container publishing its port on `host:port` (free if None)."""
    port = port or free_port(host if host != "0.0.0.0" else "127.0.0.1")
    engine = client()
    api = engine.api
    name = f"cogkit-{uuid.uuid4().hex[:12]}"
    host_config = api.create_host_config(
        port_bindings={SERVER_PORT: (host, port)},
        binds={src: {"bind": dst, "mode": "rw"} for src, dst in (volumes or {}).items()},
        device_requests=gpu_request(gpus),
        auto_remove=True,
    )
    config = api.create_container_config(
        image,
        list(command) if command else None,
        stdin_open=True,
        ports=[SERVER_PORT],
        environment={**dict(environment or {}), EXIT_ON_STDIN_EOF: "1"},
        labels={OWNER_LABEL: "cogkit"},
        host_config=host_config,
    )
    # docker-py sets these only for non-detached runs; `docker run -i` sets them the same way.
    config.update(AttachStdin=True, AttachStdout=True, AttachStderr=True, StdinOnce=True)
    try:
        created = api.create_container_from_config(config, name)
    except docker.errors.ImageNotFound as exc:
        raise EngineError(f"image {image} not found", hint="build it with `cogkit build -t NAME`") from exc
    except docker.errors.APIError as exc:
        raise EngineError(f"could not create a container from {image}: {exc.explanation or exc}") from exc
    connect = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    try:
        server = ContainerServer(created["Id"], url=f"http://{connect}:{port}", port=port, report=report)
        api.start(created["Id"])
    except docker.errors.APIError as exc:
        remove(engine, created["Id"])
        raise EngineError(f"could not start a container from {image}: {exc.explanation or exc}") from exc
    except BaseException:
        remove(engine, created["Id"])
        raise
    return server


@contextlib.contextmanager
def run_container(image: str, **kwargs: Any) -> Iterator[ContainerServer]:
    """`start_container` for a `with` block: the container is stopped and removed when it ends."""
    server = start_container(image, **kwargs)
    try:
        yield server
    finally:
        server.stop()


def remove(engine: docker.DockerClient, container_id: str) -> None:
    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
        engine.api.remove_container(container_id, force=True, v=True)


class DockerBackend:
    runtime = Runtime.DOCKER

    def prepare(self, config: RunConfig, *, image: str | None, report: Report) -> Target:
        if image:
            return image_target(image)
        from cogkit.image.build import build_project

        relay = _BuildRelay(report)
        built = build_project(
            config.config.resolve() if config.config else None,
            ca_cert=config.ca_cert,
            base_image=config.base_image,
            on_event=relay,
        )
        relay.finish()
        target = image_target(built.tag)
        target.plan, target.project_dir = built.plan, built.project_dir
        return target

    def start(self, target: Target, options: ServerOptions, *, report: Report) -> ContainerServer:
        from cogkit.runtime.gpu import resolve_gpus

        assert target.image is not None
        warn = lambda text: report(Notice(text, warning=True))  # noqa: E731
        gpu = resolve_gpus(options.gpus, wants_gpu=target.wants_gpu, min_driver=target.min_driver, warn=warn)
        command = None
        if options.upload_url:
            command = [SERVER_PYTHON, "-m", "cogkit.server", "--upload-url", options.upload_url]
        mount = options.mount_source and target.project_dir is not None
        return start_container(
            target.image,
            command=command,
            environment={**target.environment, **options.environment},
            volumes={str(target.project_dir): SOURCE_DIR} if mount else None,
            host=options.host,
            port=options.port,
            gpus=gpu,
            report=report,
        )

    def exec(
        self,
        target: Target,
        command: Sequence[str],
        *,
        environment: Mapping[str, str],
        gpus: str | None,
        ports: Sequence[int],
        report: Report,
    ) -> int:
        """`docker run --rm -i` (with a TTY when we have one): the docker CLI handles terminals and signals."""
        args = exec_args(target, command, environment=environment, gpus=gpus, ports=ports, report=report)
        try:
            return subprocess.run(args).returncode
        except KeyboardInterrupt:
            return 130

    def become_server(self, target: Target, options: ServerOptions, *, reload_on_edit: bool) -> None:
        """Never: a live process must hold the container's attached stdin, so the caller stays."""


def exec_args(
    target: Target,
    command: Sequence[str],
    *,
    environment: Mapping[str, str],
    gpus: str | None,
    ports: Sequence[int],
    report: Report,
) -> list[str]:
    """The project mounted at /src, which with the SDK folder is on PYTHONPATH, as for the worker."""
    from cogkit.runtime.gpu import resolve_gpus

    assert target.image is not None and target.project_dir is not None
    args = [builder().path, "run", "--rm", "-i", "-v", f"{target.project_dir}:{SOURCE_DIR}", "-w", SOURCE_DIR]
    if sys.stdin.isatty() and sys.stdout.isatty():
        args.append("-t")
    for port in ports:
        args += ["-p", f"127.0.0.1:{port}:{port}"]
    variables = {**target.environment, **environment}
    image_env = _image_env(target.image)
    sdk = image_env.get("COGKIT_SDK_PATH")
    path = [p for p in (sdk, SOURCE_DIR, variables.get("PYTHONPATH") or image_env.get("PYTHONPATH")) if p]
    variables["PYTHONPATH"] = ":".join(path)
    for key, value in variables.items():
        args += ["-e", f"{key}={value}"]
    warn = lambda text: report(Notice(text, warning=True))  # noqa: E731
    gpu = resolve_gpus(gpus, wants_gpu=target.wants_gpu, min_driver=target.min_driver, warn=warn)
    if gpu:
        args += ["--gpus", gpu]
    return [*args, target.image, *command]


def _image_env(image: str) -> dict[str, str]:
    config = client().api.inspect_image(image).get("Config") or {}
    return dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)


def image_target(image: str) -> Target:
    """An image's schema and GPU needs, from the labels cogkit (or Cog) wrote at build time."""
    from cogkit.image import labels

    try:
        attrs = client().images.get(image).attrs
    except docker.errors.ImageNotFound as exc:
        raise UsageError(f"image {image} not found", hint="build it with `cogkit build -t NAME`") from exc
    found = (attrs.get("Config") or {}).get("Labels") or {}
    config = labels.read_json_label(found, labels.CONFIG) or {}
    return Target(
        runtime=Runtime.DOCKER,
        schema=labels.read_json_label(found, labels.OPENAPI_SCHEMA) or {},
        image=image,
        wants_gpu=bool((config.get("build") or {}).get("gpu")),
        min_driver=found.get(labels.MIN_DRIVER),
    )


BACKEND = DockerBackend()


BUILD_STEP = "building the image"


class _BuildRelay:
    """Turns the builder's events into runtime events: notes as notices, its lines as progress."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.started = time.monotonic()

    def __call__(self, event: object) -> None:
        from cogkit.image.build import BuilderLine, BuildNote, NoteKind

        if isinstance(event, BuildNote):
            self.report(Notice(event.text, warning=event.kind is NoteKind.WARNING))
        elif isinstance(event, BuilderLine):
            detail = event.text.strip()[:100]
            self.report(Progress(BUILD_STEP, time.monotonic() - self.started, detail=detail))

    def finish(self) -> None:
        self.report(Progress(BUILD_STEP, time.monotonic() - self.started, done=True))
