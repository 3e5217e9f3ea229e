"""Show a build as it happens: a live rich view, plain builder lines, or nothing; timings at the end.

`BuildDisplay` is the `on_event` callback of `cogkit.image.build.build_project`: the library
reports, this module prints. Every text that came from outside (warnings, builder output, step
names) is escaped, so `torch[extra]` prints as written and a stray `[/x]` cannot break the output.
"""

from __future__ import annotations

from typing import Literal

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cogkit.image.build import BuilderLine, BuildEvent, BuildNote, NoteKind
from cogkit.image.progress import Step

Progress = Literal["auto", "plain", "quiet"]
Mode = Literal["live", "steps", "plain", "quiet"]


class BuildDisplay:
    """Receives each builder line; use as a context manager around the build.

    `auto` is a live view on a terminal, and one line per finished step otherwise (CI logs).
    """

    def __init__(self, console: Console, mode: Progress = "auto") -> None:
        self.console = console
        self.mode: Mode = ("live" if console.is_terminal else "steps") if mode == "auto" else mode
        self._live: Live | None = None
        self._current: Step | None = None
        self._last_line = ""
        self._reported: set[str] = set()

    def __enter__(self) -> BuildDisplay:
        if self.mode == "live":
            self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def __call__(self, event: BuildEvent) -> None:
        if isinstance(event, BuilderLine):
            self.line(event.text, event.step)
        elif isinstance(event, BuildNote):
            self.note(event)

    def note(self, note: BuildNote) -> None:
        """Shown in every mode, quiet included: a warning may need action."""
        style = "yellow" if note.kind is NoteKind.WARNING else "dim"
        self.console.print(f"[{style}]{note.kind.value}:[/] {escape(note.text)}", highlight=False)

    def line(self, text: str, step: Step | None) -> None:
        if self.mode == "plain":
            self.console.print(escape(text), highlight=False, soft_wrap=True)
            return
        if self.mode == "steps":
            self._step_line(step)
            return
        if self.mode == "quiet" or self._live is None:
            return
        if step is not None and step.is_instruction:
            if step is not self._current and step.status == "running":
                self._current = step
                self._last_line = ""
            elif step is self._current and step.tail:
                self._last_line = step.tail[-1]
        self._live.update(self._render())

    def _step_line(self, step: Step | None) -> None:
        if step is None or not step.is_instruction or step.status == "running" or step.key in self._reported:
            return
        self._reported.add(step.key)
        when = "cached" if step.status == "cached" else f"{step.seconds or 0.0:.1f}s"
        mark = "[red]✗[/]" if step.status == "error" else "[green]✓[/]"
        self.console.print(f"{mark} {escape(step.name[:100])} [dim]{when}[/]", highlight=False)

    def _render(self) -> Text:
        if self._current is None:
            return Text("building…", style="dim")
        text = Text.assemble(("building ", "dim"), (self._current.name[:120], "bold"))
        if self._last_line:
            text.append(f"\n  {self._last_line[:160]}", style="dim")
        return text


def timings_table(steps: list[Step], total_s: float) -> Table:
    """Each Dockerfile step with its time; cached steps say so."""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("step", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("time", justify="right", no_wrap=True, min_width=7)
    for step in steps:
        when = "cached" if step.status == "cached" else f"{step.seconds or 0.0:.1f}s"
        table.add_row(escape(step.name), when)
    table.add_row("[bold]total[/]", f"[bold]{total_s:.1f}s[/]")
    return table
