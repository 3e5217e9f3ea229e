"""`cogkit completion SHELL`: the script that makes the shell complete cogkit's commands and flags."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ["bash", "zsh", "fish"]
EXAMPLES = """\b
Examples:
  eval "$(cogkit completion bash)"    # in ~/.bashrc
  eval "$(cogkit completion zsh)"     # in ~/.zshrc
  cogkit completion fish > ~/.config/fish/completions/cogkit.fish
"""


@click.command(name="completion", short_help="Print the shell completion script.", epilog=EXAMPLES)
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def command(ctx: click.Context, shell: str) -> None:
    """Print the script that makes SHELL complete cogkit's commands, flags and choices."""
    complete = get_completion_class(shell)
    assert complete is not None  # every name in SHELLS has a class in click
    root = ctx.find_root()
    script = complete(root.command, {}, root.info_name or "cogkit", "_COGKIT_COMPLETE").source()
    click.echo(script)
