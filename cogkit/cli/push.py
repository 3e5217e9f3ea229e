"""`cogkit push`."""

from __future__ import annotations

import click

from cogkit.errors import CogkitError


@click.command(name="push", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """(not implemented yet)"""
    raise CogkitError("`cogkit push` is not implemented yet")
