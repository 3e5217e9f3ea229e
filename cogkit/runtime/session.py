"""Prepare and start a model server, whichever backend runs it.

`prepare` does everything that can fail before a server starts (choose the runtime, build the image
or the venv, read the schema) so that inputs are checked first; `start` runs the server, reports its
lines and the setup's progress as they come, waits for READY (bounded), and always stops it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from cogkit.errors import UsageError
from cogkit.runtime import client
from cogkit.runtime.backend import (
    SETUP_TIMEOUT_S,
    Event,
    Notice,
    Report,
    RunConfig,
    Runtime,
    Server,
    ServerLine,
    ServerOptions,
    Target,
    backend_for,
    ignore,
)
from cogkit.runtime.logs import is_server_bookkeeping
from cogkit.runtime.signals import sigterm_as_interrupt


def choose_runtime(requested: str, *, image: str | None, report: Report = ignore) -> Runtime:
    """`auto` means Docker when an engine answers, else local; IMAGE always needs Docker."""
    if requested == Runtime.LOCAL and image:
        raise UsageError(
            "an IMAGE runs only with --runtime docker", hint="drop IMAGE to run the project locally"
        )
    if requested != "auto":
        return Runtime(requested)
    from cogkit.image.engine import available

    if available():
        report(Notice("runtime: docker (an engine answers; use --runtime local to run without Docker)"))
        return Runtime.DOCKER
    if image:
        raise UsageError(f"running image {image} needs Docker, and no engine answers", hint="start Docker")
    report(Notice("runtime: local (no Docker engine answers; using a project venv)"))
    return Runtime.LOCAL


def prepare(config: RunConfig, *, image: str | None = None, report: Report = ignore) -> Target:
    """Pick the runtime (saying which), then build the image or the venv; nothing starts yet."""
    runtime = choose_runtime(config.runtime, image=image, report=report)
    return backend_for(runtime).prepare(config, image=image, report=report)


class _Relay:
    """Passes events on, dropping the server's own bookkeeping lines, and counts the lines shown."""

    def __init__(self, report: Report, *, verbose: bool) -> None:
        self.report = report
        self.verbose = verbose
        self.shown = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, ServerLine):
            if not self.verbose and is_server_bookkeeping(event.text):
                return
            self.shown += 1
        self.report(event)


@dataclass
class Running:
    """A started server, and whether its output was shown (failures need not quote it again)."""

    server: Server
    _relay: _Relay

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def output_shown(self) -> bool:
        return self._relay.shown > 0


@contextlib.contextmanager
def start(
    target: Target,
    options: ServerOptions,
    *,
    report: Report = ignore,
    setup_timeout: float | None = SETUP_TIMEOUT_S,
    verbose: bool = False,
) -> Iterator[Running]:
    """Run the target's server and, unless `setup_timeout` is None, wait for READY; always stop it.

    The server's lines reach `report` as they come, without its own bookkeeping unless `verbose`.
    """
    relay = _Relay(report, verbose=verbose)
    with sigterm_as_interrupt():
        server = backend_for(target.runtime).start(target, options, report=relay)
        try:
            if setup_timeout is not None:
                client.wait_ready(
                    server.url,
                    alive=server.alive,
                    timeout_s=setup_timeout,
                    report=report,
                    logs_shown=lambda: relay.shown > 0,
                )
            yield Running(server, relay)
        finally:
            server.stop()


def run_in_environment(
    config: RunConfig,
    command: list[str],
    *,
    ports: tuple[int, ...] = (),
    report: Report = ignore,
) -> int:
    """`cogkit exec`: prepare the project, run `command` in its environment, return its exit status."""
    target = prepare(config, report=report)
    return backend_for(target.runtime).exec(
        target, command, environment=config.environment, gpus=config.gpus, ports=ports, report=report
    )
