"""Prepare and start a model server for the CLI: from an image, or from a project in either runtime.

`prepare` does everything that can fail before a server starts (choose the runtime, build the image
or venv, read the schema) so the CLI can validate inputs first; `start` runs it and waits for READY.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from cogkit.errors import UsageError
from cogkit.plan.models import BuildPlan
from cogkit.runtime import client as server_client
from cogkit.runtime.local import run_local

# The docker SDK is imported only on the docker paths: the local runtime should start fast.

Runtime = Literal["docker", "local"]
SOURCE_DIR = "/src"


@dataclass
class Target:
    """What will run: an image (docker) or a project venv (local), with its schema."""

    runtime: Runtime
    schema: dict[str, Any]
    image: str | None = None
    plan: BuildPlan | None = None
    project_dir: Path | None = None
    worker_python: Path | None = None
    environment: dict[str, str] = field(default_factory=dict)
    wants_gpu: bool = False
    min_driver: str | None = None


@dataclass
class Handle:
    url: str
    alive: server_client.AliveCheck
    logs: Callable[[], str]
    extra: Any = None


def choose_runtime(requested: str, *, image: str | None, say: Callable[[str], None]) -> Runtime:
    """`auto` means Docker when an engine answers, else local; IMAGE always needs Docker."""
    if requested == "local" and image:
        raise UsageError(
            "an IMAGE runs only with --runtime docker", hint="drop IMAGE to run the project locally"
        )
    if requested in ("docker", "local"):
        return requested  # type: ignore[return-value]
    from cogkit.image.engine import available

    if available():
        say("runtime: docker (an engine answers; use --runtime local to run without Docker)")
        return "docker"
    if image:
        raise UsageError(f"running image {image} needs Docker, and no engine answers", hint="start Docker")
    say("runtime: local (no Docker engine answers; using a project venv)")
    return "local"


def prepare(
    image: str | None,
    *,
    runtime: Runtime,
    config: Path | None,
    console: Console,
    ca_cert: Path | None = None,
    base_image: str | None = None,
    quiet_build: bool = False,
) -> Target:
    """Build what is needed and read the schema; nothing is started yet."""
    if image:
        return _image_target(image)
    config = config.resolve() if config else None
    from cogkit.plan import resolve
    from cogkit.spec import load_spec

    if runtime == "docker":
        from cogkit.cli.build_display import BuildDisplay  # until runtime takes a callback (issue 9)
        from cogkit.image.build import build_project

        with BuildDisplay(console, "quiet" if quiet_build else "auto") as display:
            built = build_project(config, ca_cert=ca_cert, base_image=base_image, on_event=display)
        target = _image_target(built.tag)
        target.plan, target.project_dir = built.plan, built.project_dir
        return target
    from cogkit.runtime.venv import ensure_venv, missing_system_packages

    spec = load_spec(config)
    plan = resolve(spec, base_image_override=base_image)

    def warn(text: str) -> None:
        console.print(f"[yellow]warning:[/] {text}", highlight=False)

    def info(text: str) -> None:
        console.print(f"[dim]{text}[/]", highlight=False)

    for warning in (*spec.warnings, *plan.warnings):
        warn(warning)
    missing = missing_system_packages(plan.system_packages)
    if missing:
        warn(f"system_packages missing on this host: {', '.join(missing)} (install them, or use Docker)")
    venv = ensure_venv(plan, spec.project_dir, warn=warn, info=info)
    schema = _cached_local_schema(venv.python, spec.project_dir, plan)
    return Target(
        runtime="local",
        schema=schema,
        plan=plan,
        project_dir=spec.project_dir,
        worker_python=venv.python,
        environment=dict(plan.environment),
    )


def _cached_local_schema(python: Path, project_dir: Path, plan: BuildPlan) -> dict[str, Any]:
    """The predictor's schema, recomputed only when the project's files or the venv change."""
    from cogkit.image.schema import local_schema
    from cogkit.runtime.venv import STAMP
    from cogkit.runtime.watch import snapshot

    stamp = python.parent.parent / STAMP
    key_data = [
        plan.predictor,
        plan.trainer,
        stamp.read_text() if stamp.exists() else "",
        snapshot(project_dir),
    ]
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()
    cache = project_dir / ".cogkit" / "schema.json"
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached["schema"]
    schema = local_schema(python, project_dir, predictor=plan.predictor, trainer=plan.trainer)
    with contextlib.suppress(OSError):
        cache.write_text(json.dumps({"key": key, "schema": schema}))
    return schema


def _image_target(image: str) -> Target:
    import docker.errors

    from cogkit.image import labels
    from cogkit.image.engine import client

    try:
        attrs = client().images.get(image).attrs
    except docker.errors.ImageNotFound as exc:
        raise UsageError(f"image {image} not found", hint="build it with `cogkit build -t NAME`") from exc
    found = (attrs.get("Config") or {}).get("Labels") or {}
    config = labels.read_json_label(found, labels.CONFIG) or {}
    return Target(
        runtime="docker",
        schema=labels.read_json_label(found, labels.OPENAPI_SCHEMA) or {},
        image=image,
        wants_gpu=bool((config.get("build") or {}).get("gpu")),
        min_driver=found.get(labels.MIN_DRIVER),
    )


@contextlib.contextmanager
def start(
    target: Target,
    *,
    environment: Mapping[str, str] | None = None,
    gpus: str | None = None,
    console: Console,
    mount_source: bool = False,
    host: str = "127.0.0.1",
    port: int | None = None,
    upload_url: str | None = None,
    wait: bool = True,
    capture: bool = True,
) -> Iterator[Handle]:
    """Run the target's server and wait for READY (bounded); always stop it afterwards."""
    env = {**target.environment, **dict(environment or {})}
    with contextlib.ExitStack() as stack:
        if target.runtime == "docker":
            from cogkit.runtime import docker as docker_runtime
            from cogkit.runtime.gpu import resolve_gpus

            assert target.image is not None

            def warn(text: str) -> None:
                console.print(f"[yellow]warning:[/] {text}", highlight=False)

            gpu = resolve_gpus(gpus, wants_gpu=target.wants_gpu, min_driver=target.min_driver, warn=warn)
            command = None
            if upload_url:
                command = ["/opt/cogkit/venv/bin/python", "-m", "cogkit.server", "--upload-url", upload_url]
            volumes = {str(target.project_dir): SOURCE_DIR} if mount_source and target.project_dir else None
            server = stack.enter_context(
                docker_runtime.run_container(
                    target.image,
                    command=command,
                    environment=env,
                    volumes=volumes,
                    gpus=gpu,
                    host=host,
                    fixed_port=port,
                )
            )
            handle = Handle(url=server.url, alive=server.alive, logs=server.logs, extra=server)
        else:
            assert target.plan is not None and target.project_dir and target.worker_python
            local = stack.enter_context(
                run_local(
                    predictor=target.plan.predictor,
                    trainer=target.plan.trainer,
                    cwd=target.project_dir,
                    worker_python=target.worker_python,
                    environment=env,
                    host=host,
                    port=port,
                    upload_url=upload_url,
                    capture=capture,
                )
            )
            handle = Handle(url=local.url, alive=local.alive, logs=local.logs, extra=local)
        if wait:
            server_client.wait_ready(handle.url, alive=handle.alive)
        yield handle
