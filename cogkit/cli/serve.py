"""`cogkit serve`: the project's HTTP server, with the source mounted and optional --reload."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import click

from cogkit.cli import render
from cogkit.cli.options import RuntimeFlags, runtime_options

POLL_S = 0.5


@click.command(name="serve")
@click.option("-p", "--port", type=int, default=8393, show_default=True, help="Port on the host.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--upload-url", help="PUT output files here and return their URLs instead of data URIs.")
@click.option("--reload", is_flag=True, help="Restart the worker when the project's code changes.")
@runtime_options
def command(
    port: int,
    host: str,
    upload_url: str | None,
    reload: bool,
    flags: RuntimeFlags,
) -> None:
    """Serve the project over Cog's HTTP API until Ctrl-C."""
    from cogkit.errors import PredictorError
    from cogkit.runtime import session, watch

    target = flags.prepare(None)
    assert target.project_dir is not None
    variables = flags.environment
    while True:
        before = watch.snapshot(target.project_dir)
        with session.start(
            target,
            environment=variables,
            gpus=flags.gpus,
            console=render.stderr,
            mount_source=True,
            host=host,
            port=port,
            upload_url=upload_url,
            wait=False,
            capture=False,
        ) as handle:
            _follow_container_logs(handle.extra)
            render.info(
                f"serving {target.project_dir.name} at http://{host}:{port} ({target.runtime}); Ctrl-C stops"
            )
            render.info(f"playground: http://{host}:{port}/playground")
            edits: list[str] = []
            while not edits:
                time.sleep(POLL_S)
                death = handle.alive()
                if death is not None:
                    raise PredictorError(f"the server stopped:\n{death}")
                if reload:
                    edits = watch.changed(before, watch.snapshot(target.project_dir))
        render.info(f"{Path(edits[0]).name} changed; restarting")


def _follow_container_logs(server: object) -> None:
    """Print a container's output as it comes (local servers already write to our terminal)."""
    container = getattr(server, "container", None)
    if container is None:
        return

    def pump() -> None:
        try:
            for chunk in container.logs(stream=True, follow=True):
                render.stderr.file.write(chunk.decode(errors="replace"))
                render.stderr.file.flush()
        except Exception:  # the container was removed under us: the stream simply ends
            return

    threading.Thread(target=pump, daemon=True, name="cogkit-logs").start()
