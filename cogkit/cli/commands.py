"""The list of subcommands; each lives in its own module and maps its flags onto one library call."""

from __future__ import annotations

import click

from cogkit.cli import (
    build,
    completion,
    debug,
    deploy,
    exec,
    init,
    login,
    playground,
    predict,
    push,
    queue,
    serve,
    train,
)
from cogkit.cli.alias import run_alias

ALL: list[click.Command] = [
    init.command,
    debug.command,
    build.command,
    predict.command,
    run_alias(predict.command),  # `cogkit run` is `cogkit predict`, as in current Cog
    serve.command,
    exec.command,
    train.command,
    push.command,
    login.command,
    deploy.command,
    playground.command,
    completion.command,
    queue.command,
]
