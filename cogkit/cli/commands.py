"""Subcommands. Each one parses flags and calls exactly one library function."""

from __future__ import annotations

import click

from cogkit.errors import CogkitError


def _not_yet(name: str) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        raise CogkitError(f"`cogkit {name}` is not implemented yet")

    command.help = f"({name}: not implemented yet)"
    return command


ALL: list[click.Command] = [
    _not_yet(name) for name in ("init", "build", "predict", "run", "serve", "exec", "train", "push", "login", "debug")
]
