"""Push progress: one bar per layer and one for the total, with bytes, speed and outcome counts."""

from __future__ import annotations

import threading
from collections import Counter

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)


class PushProgress:
    """Thread-safe; `enabled=False` keeps the counts but draws nothing (tests, --quiet)."""

    def __init__(self, *, console: Console | None = None, enabled: bool = True) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskID] = {}
        self._done: dict[str, int] = {}
        self._bar = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(bar_width=20),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[state]}"),
            console=console or Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self._total = self._bar.add_task("total", total=0, state="")

    def __enter__(self) -> PushProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.update(self._total, state=self.summary())
        self._bar.stop()

    def add(self, digest: str, size: int, label: str = "") -> None:
        with self._lock:
            if digest in self._tasks:
                return
            self._tasks[digest] = self._bar.add_task(label or digest[7:19], total=size, state="waiting")
            self._done[digest] = 0
            total = self._bar.tasks[self._total].total or 0
            self._bar.update(self._total, total=total + size)

    def update(self, digest: str, done: int) -> None:
        """`done` is absolute, so a resumed upload can move a bar back."""
        with self._lock:
            if digest not in self._tasks:
                return
            delta, self._done[digest] = done - self._done[digest], done
            self._bar.update(self._tasks[digest], completed=done, state="pushing")
            self._bar.advance(self._total, delta)

    def finish(self, digest: str, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] += 1
            if digest in self._tasks:
                self._bar.update(self._tasks[digest], state=outcome)
            self._bar.update(self._total, state=self.summary())

    def summary(self) -> str:
        return ", ".join(f"{self.counts[k]} {k}" for k in ("uploaded", "mounted", "skipped"))
