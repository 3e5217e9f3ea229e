"""The one small interface both runtimes implement, and the events they report instead of printing.

    prepare(config, report)        build the image or the venv and read the schema: a `Target`
    start(target, options, report) a running `Server` (url, alive, logs, reload, stop)
    exec(target, command, …)       run a command in the project's environment; its exit status
    become_server(target, …)       replace this process with the server, where that is possible

`docker.py` and `local.py` are the two backends; `backend_for(Runtime)` picks one. Backends
never print: they hand `Notice`, `Progress` and `ServerLine` events to a `Report` callback, and
only `cogkit.cli` turns those into terminal output.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cogkit.plan.models import BuildPlan

SOURCE_DIR = "/src"  # where the project is, or is mounted, in a container
# Set on every server we start: it treats EOF on its stdin (held by us) as our death, and exits.
EXIT_ON_STDIN_EOF = "COGKIT_EXIT_ON_STDIN_EOF"
SETUP_TIMEOUT_S = 300.0  # how long setup() may run by default: Cog's `--setup-timeout` default


class Runtime(str, enum.Enum):
    DOCKER = "docker"
    LOCAL = "local"


@dataclass(frozen=True)
class Notice:
    """Something worth saying once (the runtime chosen, a venv created), or a warning."""

    text: str
    warning: bool = False


@dataclass(frozen=True)
class Progress:
    """A long step, reported about once a second while it runs and once more when it ends."""

    step: str  # "running setup", "installing requirements"
    elapsed_s: float
    detail: str = ""  # the package being fetched, uv's last line
    done: bool = False


@dataclass(frozen=True)
class ServerLine:
    """One line the server printed: the model's own output, echoed by the server as it happens."""

    text: str


Event = Notice | Progress | ServerLine
Report = Callable[[Event], None]


def ignore(event: Event) -> None:
    """A `Report` for callers that show nothing."""


@dataclass(frozen=True)
class RunConfig:
    """Where and how to run a project or an image: the choices predict, serve, exec and train share."""

    runtime: str = "auto"  # "auto", or a `Runtime` value
    config: Path | None = None  # cog.yaml; None finds the nearest one
    gpus: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    ca_cert: Path | None = None
    base_image: str | None = None


@dataclass
class Target:
    """What will run: an image (docker) or a project venv (local), with the schema it serves."""

    runtime: Runtime
    schema: dict[str, Any]
    project_dir: Path | None = None
    plan: BuildPlan | None = None
    image: str | None = None  # docker
    worker_python: Path | None = None  # local
    environment: dict[str, str] = field(default_factory=dict)
    wants_gpu: bool = False
    min_driver: str | None = None


@dataclass(frozen=True)
class ServerOptions:
    """How to start a server; `port=None` picks a free one on `host`."""

    environment: Mapping[str, str] = field(default_factory=dict)
    gpus: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None
    upload_url: str | None = None
    mount_source: bool = False  # docker: the project at /src, so edits reach the container


class Server(Protocol):
    """A running server. It exits by itself when this process dies, however it dies."""

    url: str

    def alive(self) -> str | None:
        """None while it runs; otherwise how it ended, with its last lines."""

    def logs(self, tail: int = 40) -> str:
        """Its last lines of output, for error messages."""

    def reload(self) -> None:
        """Restart the worker (the server stays up): SIGHUP."""

    def stop(self) -> None:
        """Shut it down (bounded: SIGTERM, a grace period, then SIGKILL); safe to call twice."""


class Backend(Protocol):
    runtime: Runtime

    def prepare(self, config: RunConfig, *, image: str | None, report: Report) -> Target:
        """Build the image or the venv (or read IMAGE's labels) and the schema; nothing starts."""

    def start(self, target: Target, options: ServerOptions, *, report: Report) -> Server:
        """Start the server; every line it prints goes to `report` as a `ServerLine`."""

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
        """Run `command` in the project's environment with `cog`, `cogkit` and the project importable."""

    def become_server(self, target: Target, options: ServerOptions, *, reload_on_edit: bool) -> None:
        """Replace this process with the server (or a small supervisor of it) if this backend can;
        return if it cannot, and the caller supervises the server itself."""


def backend_for(runtime: Runtime) -> Backend:
    """The backend module's instance; the docker SDK is imported only when docker is chosen."""
    if runtime is Runtime.DOCKER:
        from cogkit.runtime.docker import BACKEND
    else:
        from cogkit.runtime.local import BACKEND
    return BACKEND
