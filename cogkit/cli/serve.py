"""`cogkit serve`: the project's HTTP server, with the source mounted and optional --reload."""

from __future__ import annotations

import dataclasses

import click

from cogkit.cli import render
from cogkit.cli.options import PORT, runtime_options
from cogkit.runtime.backend import RunConfig

EXAMPLES = """\b
Examples:
  cogkit serve                           # Cog's HTTP API on http://127.0.0.1:8393
  cogkit serve -p 5000 --reload          # restart the worker when a .py file changes
  cogkit serve --host 0.0.0.0 --runtime local
  cogkit serve --queue 'redis://127.0.0.1:6379/0?stream=predictions'   # also consume a Redis queue
  curl -s localhost:8393/predictions -H 'Content-Type: application/json' -d '{"input": {"text": "hi"}}'
"""


@click.command(name="serve", short_help="Serve the project over Cog's HTTP API.", epilog=EXAMPLES)
@click.option("-p", "--port", type=PORT, default=8393, show_default=True, help="Port on the host.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--upload-url", help="PUT output files here and return their URLs instead of data URIs.")
@click.option(
    "--reload", is_flag=True, help="Restart the worker (setup runs again) when a Python file changes."
)
@click.option(
    "--queue",
    "queue_url",
    metavar="URL",
    help="Also take predictions from this Redis stream: redis://HOST:PORT/DB?stream=NAME.",
)
@runtime_options
def command(
    port: int, host: str, upload_url: str | None, reload: bool, queue_url: str | None, run_config: RunConfig
) -> None:
    """Serve the project over Cog's HTTP API until Ctrl-C.

    The model's output (setup and predictions) appears here as it happens. With --reload, an edit
    to a Python file that .dockerignore lets into the image restarts only the worker: the server
    keeps its port, setup() runs again, and predictions in flight end `failed`. Files the model
    writes never trigger a restart; an edit to cog.yaml or the requirements needs a new start.
    """
    from cogkit.runtime import serve

    if queue_url:
        from cogkit.queue.settings import queue_settings

        queue_settings(queue_url, {}, source="--queue")  # a bad URL is one line now, not after setup
        environment = {**run_config.environment, "COGKIT_QUEUE_URL": queue_url}
        run_config = dataclasses.replace(run_config, environment=environment)
    reporter = render.Reporter()
    try:
        serve.serve(
            run_config, host=host, port=port, upload_url=upload_url, reload_on_edit=reload, report=reporter
        )
    finally:
        reporter.close()
