"""`cogkit run`: `cogkit predict` under Cog's current name, with a pointer for Cog's old meaning.

Before Cog 0.9, `cog run CMD` ran a command in the image; now `cog run` is `cog predict`. A user
who types `cogkit run python x.py` gets click's parse error and a pointer to `cogkit exec`.
"""

from __future__ import annotations

import inspect
import shlex
from typing import Any

import click


class RunAlias(click.Command):
    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        given = list(args)
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if exc.ctx is None or not given or given[0].startswith("-"):
                raise
            exc.message += (
                "\n`cogkit run` runs a prediction (as `cog run` does in current Cog). To run a command "
                f"in the project's environment, use: cogkit exec {shlex.join(given)}"
            )
            raise


def run_alias(predict: click.Command) -> click.Command:
    """A `run` command with predict's flags and behaviour, listed as its alias."""
    return RunAlias(
        name="run",
        params=list(predict.params),
        callback=predict.callback,
        help=f"Alias of `cogkit predict`, as in current Cog.\n\n{inspect.cleandoc(predict.help or '')}",
        short_help="Alias of predict, as in current Cog.",
        epilog=predict.epilog,
        context_settings=predict.context_settings,
    )
