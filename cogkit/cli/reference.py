"""docs/cli.md, generated from the click commands so it cannot drift: `python -m cogkit.cli.reference`.

A test compares the file with this output; rerun the command after changing a flag or a help text.
"""

from __future__ import annotations

import sys

import click

WIDTH = 100
HEADER = """# cogkit command reference

Generated from the commands' own `--help` by `python -m cogkit.cli.reference > docs/cli.md`
(a test keeps it current). Every command also takes `--debug`: tracebacks for errors, and the
server's own log lines. Shell completion: `eval "$(cogkit completion bash)"` (or zsh, fish).
"""


def render() -> str:
    from cogkit.cli.main import cli

    root = click.Context(cli, info_name="cogkit", terminal_width=WIDTH, max_content_width=WIDTH)
    lines = [HEADER, "| command | what it does |", "|---|---|"]
    lines += [
        f"| [`cogkit {name}`](#cogkit-{name}) | {command.short_help} |" for name, command in _commands(cli)
    ]
    for name, command in _commands(cli):
        ctx = click.Context(
            command, info_name=name, parent=root, terminal_width=WIDTH, max_content_width=WIDTH
        )
        lines += ["", f"## cogkit {name}", "", "```text", command.get_help(ctx).rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _commands(group: click.Group) -> list[tuple[str, click.Command]]:
    return [(name, group.commands[name]) for name in group.list_commands(click.Context(group))]


if __name__ == "__main__":
    sys.stdout.write(render())
