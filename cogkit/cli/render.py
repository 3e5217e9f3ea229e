"""The one place cogkit writes to the terminal. Text from outside (warnings, errors, the model's own
output) is never read as rich markup: it is escaped, or printed as a plain `Text`.

`Reporter` turns the library's events into lines: notices and warnings once, a long step as a live
status line with its elapsed time (on a terminal; elsewhere a line when it starts, every 30 s, and
when it ends), and the server's lines verbatim, as they come.
"""

from __future__ import annotations

import sys
import threading
import traceback

import click
from rich.console import Console
from rich.status import Status
from rich.text import Text

from cogkit.errors import CogkitError
from cogkit.runtime.backend import Event, Notice, Progress, ServerLine

stderr = Console(stderr=True, highlight=False, soft_wrap=True)
stdout = Console(highlight=False, soft_wrap=True)

LONG_STEP_S = 5.0  # a step shorter than this is not worth a line of its own where nothing animates
STILL_EVERY_S = 30.0


DEBUG_KEY = "cogkit.debug"


def remember_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """--debug, before or after the subcommand: kept in `ctx.meta`, which nested contexts share."""
    if value:
        ctx.meta[DEBUG_KEY] = True


def debug_option() -> click.Option:
    return click.Option(
        ["--debug"],
        is_flag=True,
        expose_value=False,
        callback=remember_debug,
        help="Show tracebacks, and the server's own log lines.",
    )


def debugging(ctx: click.Context | None = None) -> bool:
    ctx = ctx or click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(DEBUG_KEY))


def error(exc: CogkitError, *, debug: bool) -> int:
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    lines = str(exc).splitlines() or [type(exc).__name__]
    labelled("error:", "bold red", lines[0])
    for line in lines[1:]:
        stderr.print(Text(line, style="yellow" if line.lstrip().startswith("hint:") else ""))
    return exc.exit_code


def labelled(label: str, style: str, message: str, console: Console | None = None) -> None:
    """`label message`, the label styled and the message as it is (never markup, never emoji codes)."""
    (console or stderr).print(Text.assemble((label, style), *((" ", message) if message else ())))


def warning(message: str, console: Console | None = None) -> None:
    labelled("warning:", "yellow", message, console)


def info(message: str, console: Console | None = None) -> None:
    (console or stderr).print(Text(message, style="dim"))


def plain(line: str, console: Console | None = None) -> None:
    """A line from the model or the server, exactly as it was written."""
    (console or stderr).print(Text(line))


class Reporter:
    """A `cogkit.runtime` Report callback that renders each event on stderr."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or stderr
        self._status: Status | None = None
        self._said_start: set[str] = set()
        self._next_still: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if isinstance(event, ServerLine):
            plain(event.text, self.console)
        elif isinstance(event, Notice):
            (warning if event.warning else info)(event.text, self.console)
        elif isinstance(event, Progress):
            with self._lock:
                self._progress(event)

    def close(self) -> None:
        """Remove a live status line (before exiting, or before this process is replaced)."""
        with self._lock:
            if self._status is not None:
                self._status.stop()
                self._status = None

    def _progress(self, event: Progress) -> None:
        text = f"{event.step}… {event.elapsed_s:.0f}s" + (f"  {event.detail}" if event.detail else "")
        if event.done:
            if self._status is not None:
                self._status.stop()
                self._status = None
            if event.elapsed_s >= LONG_STEP_S or event.step in self._said_start:
                info(f"{event.step}: done in {event.elapsed_s:.1f}s", self.console)
            self._said_start.discard(event.step)
            self._next_still.pop(event.step, None)
        elif self.console.is_terminal:
            if self._status is None:
                self._status = self.console.status(Text(text))
                self._status.start()
            else:
                self._status.update(Text(text))
        elif event.elapsed_s >= self._next_still.get(event.step, LONG_STEP_S):
            info(text, self.console)
            self._said_start.add(event.step)
            self._next_still[event.step] = event.elapsed_s + STILL_EVERY_S
