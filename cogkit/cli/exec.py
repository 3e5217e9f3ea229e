"""`cogkit exec CMD…`: run a command in the project's environment, with the project mounted."""

from __future__ import annotations

import sys

import click

from cogkit.cli import render
from cogkit.cli.options import PORT, runtime_options
from cogkit.runtime.backend import RunConfig

EXAMPLES = """\b
Examples:
  cogkit exec python -c 'import cog, predict'    # the project and `cog` import, as in the worker
  cogkit exec pytest tests/
  cogkit exec -p 8888 jupyter lab --ip 0.0.0.0 --port 8888
  cogkit exec --runtime local pip list
"""


@click.command(
    name="exec",
    short_help="Run a command in the project's environment.",
    epilog=EXAMPLES,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "-p", "--publish", "ports", multiple=True, type=PORT, help="Publish this container port on 127.0.0.1."
)
@runtime_options
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED)
def command(ports: tuple[int, ...], run_config: RunConfig, cmd: tuple[str, ...]) -> None:
    """Run CMD in the project's image (or local venv) with the project at /src (or in place).

    `cog`, `cogkit` and the project's own modules import as they do in the worker. This is what
    `cog run CMD` did in older Cog; `cogkit run` is `cogkit predict`, as in current Cog.
    """
    from cogkit.runtime import session

    reporter = render.Reporter()
    try:
        code = session.run_in_environment(run_config, list(cmd), ports=ports, report=reporter)
    finally:
        reporter.close()
    sys.exit(code)
