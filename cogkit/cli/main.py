"""The `cogkit` command. Each subcommand maps its flags onto one library call."""

from __future__ import annotations

import re

import click

from cogkit import __version__
from cogkit.cli import render
from cogkit.errors import CogkitError


class CogkitGroup(click.Group):
    """Turns every CogkitError into one rendered line and its exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CogkitError as exc:
            ctx.exit(render.error(exc, debug=render.debugging(ctx)))
        except KeyboardInterrupt:
            render.labelled("interrupted", "red", "")
            ctx.exit(130)


@click.group(
    cls=CogkitGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Every command also takes --debug (tracebacks, and the server's own log lines).\n"
    'Shell completion: eval "$(cogkit completion bash)" (or zsh, fish).',
)
@click.version_option(__version__, prog_name="cogkit")
@click.option(
    "--debug", is_flag=True, expose_value=False, callback=render.remember_debug, help="Show tracebacks."
)
def cli() -> None:
    """Package machine-learning models as production containers (Cog-compatible)."""


def first_sentence(text: str) -> str:
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    found = re.match(r"(.+?[.!?])(\s|$)", paragraph)
    return found.group(1) if found else paragraph


def _register() -> None:
    from cogkit.cli import commands

    for command in commands.ALL:
        command.params.append(render.debug_option())
        if command.short_help is None and command.help:
            # click would cut the summary at ~45 characters with "..."; show the whole first sentence.
            command.short_help = first_sentence(command.help)
        cli.add_command(command)


_register()


def main() -> None:
    cli(prog_name="cogkit")
