"""The `cogkit` command. Each subcommand maps its flags onto one library call."""

from __future__ import annotations

import sys

import click

from cogkit import __version__
from cogkit.cli import render
from cogkit.errors import CogkitError


class CogkitGroup(click.Group):
    """Turns every CogkitError into one rendered line and its exit code."""

    def invoke(self, ctx: click.Context) -> object:
        debug = "--debug" in sys.argv[1:]
        try:
            return super().invoke(ctx)
        except CogkitError as exc:
            ctx.exit(render.error(exc, debug=debug))
        except KeyboardInterrupt:
            render.stderr.print("[red]interrupted[/]")
            ctx.exit(130)


@click.group(cls=CogkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cogkit")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def cli(debug: bool) -> None:
    """Package machine-learning models as production containers (Cog-compatible)."""


def _register() -> None:
    from cogkit.cli import commands

    for command in commands.ALL:
        cli.add_command(command)
    for alias, command in commands.ALIASES.items():
        cli.add_command(command, name=alias)


_register()


def main() -> None:
    cli(prog_name="cogkit")
