"""The list of subcommands; each lives in its own module and maps its flags onto one library call."""

from __future__ import annotations

import click

from cogkit.cli import build, debug, exec, init, login, predict, push, queue, serve, train

ALL: list[click.Command] = [
    init.command,
    debug.command,
    build.command,
    predict.command,
    serve.command,
    exec.command,
    train.command,
    push.command,
    login.command,
    queue.command,
]

# `cogkit run` is `cogkit predict`, as in current Cog.
ALIASES: dict[str, click.Command] = {"run": predict.command}
