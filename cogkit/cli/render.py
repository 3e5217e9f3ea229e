"""Render errors once, at the CLI edge: one short red line, a hint, and a traceback only with --debug."""

from __future__ import annotations

import sys
import traceback

from rich.console import Console
from rich.markup import escape

from cogkit.errors import CogkitError

stderr = Console(stderr=True, highlight=False, soft_wrap=True)
stdout = Console(highlight=False, soft_wrap=True)


def error(exc: CogkitError, *, debug: bool) -> int:
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    lines = str(exc).splitlines() or [type(exc).__name__]
    stderr.print(f"[bold red]error:[/] {escape(lines[0])}")
    for line in lines[1:]:
        stderr.print(escape(line), style="yellow" if line.lstrip().startswith("hint:") else None)
    return exc.exit_code


def warning(message: str) -> None:
    stderr.print(f"[yellow]warning:[/] {escape(message)}")


def info(message: str) -> None:
    stderr.print(f"[dim]{escape(message)}[/]")
