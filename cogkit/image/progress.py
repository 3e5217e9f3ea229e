"""Turn a builder's plain-text progress into steps with names, timings and their last output lines.

BuildKit's `--progress=plain` prints records keyed by vertex number (`#5 [2/7] RUN …`, `#5 0.41 out`,
`#5 DONE 1.2s`, `#5 CACHED`, `#5 ERROR: …`); the legacy builder prints `Step 2/7 : RUN …`. Both feed
the same `StepLog`, so the CLI shows one summary and a failure shows its step, not a wall of text.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Status = Literal["running", "done", "cached", "error"]
TAIL_LINES = 25
# Builders print output line by line, so a multi-line secret (a PEM key) is redacted line by line
# too; lines shorter than this (blank lines, a lone "}") are too common to hide and reveal nothing.
MIN_SECRET_LINE = 6

_VERTEX = re.compile(r"^#(\d+) (.*)$")
_DONE = re.compile(r"^DONE (\d+(?:\.\d+)?)s$")
_TIMED_OUTPUT = re.compile(r"^\d+\.\d+ (.*)$")
_LEGACY_STEP = re.compile(r"^Step (\d+/\d+) : (.*)$")
_POSITION = re.compile(r"^\[(?:([\w-]+) )?(\d+)/\d+\]")
_NOISE = re.compile(r"^(sha256:[0-9a-f]+|transferring |resolve |extracting |writing |naming to |exporting )")


@dataclass
class Step:
    """One build step: a Dockerfile instruction or one of BuildKit's internal vertices."""

    key: str
    name: str
    status: Status = "running"
    seconds: float | None = None
    error: str | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))

    @property
    def is_instruction(self) -> bool:
        """True for Dockerfile instructions (`[2/7] RUN …`), false for `[internal] …` bookkeeping."""
        return bool(re.match(r"^\[(?:[\w-]+ )?\d+/\d+\]", self.name)) or self.key.startswith("step")


class StepLog:
    """Accumulates steps from progress lines; `feed` returns the step a line touched."""

    def __init__(self, redact: Iterable[str] = ()) -> None:
        self.steps: dict[str, Step] = {}
        self.trailer: deque[str] = deque(maxlen=TAIL_LINES)
        self._redact = sorted(_secret_fragments(redact), key=len, reverse=True)
        self._legacy_current: Step | None = None

    def clean(self, line: str) -> str:
        """Hide secret values from anything we print or keep."""
        for secret in self._redact:
            line = line.replace(secret, "***")
        return line

    def feed(self, raw: str) -> Step | None:
        line = self.clean(raw.rstrip("\r\n"))
        vertex = _VERTEX.match(line)
        if vertex:
            return self._feed_vertex(f"#{vertex.group(1)}", vertex.group(2))
        legacy = _LEGACY_STEP.match(line)
        if legacy:
            self._finish_legacy("done")
            step = Step(key=f"step{legacy.group(1)}", name=f"[{legacy.group(1)}] {legacy.group(2)}")
            self.steps[step.key] = step
            self._legacy_current = step
            return step
        if self._legacy_current is not None and line.strip():
            return self._feed_legacy_output(line)
        if line.strip():
            self.trailer.append(line)
        return None

    def _feed_vertex(self, key: str, rest: str) -> Step:
        step = self.steps.get(key)
        if step is None:
            step = self.steps[key] = Step(key=key, name=rest)
            return step
        done = _DONE.match(rest)
        if done:
            step.status, step.seconds = "done", float(done.group(1))
        elif rest == "CACHED":
            step.status, step.seconds = "cached", 0.0
        elif rest.startswith("ERROR"):
            step.status, step.error = "error", rest.removeprefix("ERROR").lstrip(": ")
        else:
            timed = _TIMED_OUTPUT.match(rest)
            if timed:
                step.tail.append(timed.group(1))
            elif not _NOISE.match(rest) and rest.strip():
                step.tail.append(rest)
        return step

    def _feed_legacy_output(self, line: str) -> Step:
        step = self._legacy_current
        assert step is not None
        if line.startswith(" ---> Using cache"):
            step.status = "cached"
        elif not line.startswith(" ---> "):
            step.tail.append(line)
        return step

    def _finish_legacy(self, status: Status) -> None:
        if self._legacy_current is not None and self._legacy_current.status == "running":
            self._legacy_current.status = status

    def finish(self, *, ok: bool) -> None:
        """Close the stream: a failed legacy build blames the step that was running."""
        self._finish_legacy("done" if ok else "error")

    @property
    def instructions(self) -> list[Step]:
        """Dockerfile steps in Dockerfile order (BuildKit reports cached steps in any order)."""
        stages: dict[str, int] = {}

        def order(step: Step) -> tuple[int, int]:
            match = _POSITION.match(step.name)
            if not match:
                return (len(stages), 0)
            stage = stages.setdefault(match.group(1) or "", len(stages))
            return (stage, int(match.group(2)))

        return sorted((s for s in self.steps.values() if s.is_instruction), key=order)

    def failed_step(self) -> Step | None:
        failed = [s for s in self.steps.values() if s.status == "error"]
        return failed[0] if failed else None

    def failure_message(self, *, lines: int = 15) -> str:
        """The failing step, its error and its last output lines: what a user needs to fix it."""
        step = self.failed_step()
        if step is None:
            tail = "\n".join(f"    {line}" for line in list(self.trailer)[-lines:])
            return "the image build failed" + (f":\n{tail}" if tail else "")
        error = _clip(step.error or (self.trailer[-1] if self.trailer else "failed"))
        shown = [f"    {_clip(line)}" for line in list(step.tail)[-lines:]]
        body = "\n".join(shown)
        return f"build step {step.name} failed: {error}" + (f"\n  last output:\n{body}" if body else "")


def _secret_fragments(values: Iterable[str]) -> set[str]:
    """Each secret whole, and each of its lines that is long enough to be worth hiding."""
    fragments: set[str] = set()
    for value in values:
        if value:
            fragments.add(value)
            fragments.update(
                line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_SECRET_LINE
            )
    return fragments


def _clip(line: str, width: int = 240) -> str:
    """One long line (a pip retry warning, a compiler command) must not fill the screen."""
    return line if len(line) <= width else line[: width - 1] + "…"
