"""`cogkit init`."""

from __future__ import annotations

import click

from cogkit.errors import CogkitError


@click.command(name="init", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """(not implemented yet)"""
    raise CogkitError("`cogkit init` is not implemented yet")
