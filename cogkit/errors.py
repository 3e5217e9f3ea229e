"""One exception root for everything a user can cause or fix.

    CogkitError                 exit 1 unless a subclass says otherwise
    ├── SpecError               cog.yaml is wrong (exit 2); carries file, line, column, key path
    │   └── PlanError           the spec is valid but cannot be resolved to a build
    ├── UsageError              a CLI flag or argument is wrong (exit 2)
    ├── BuildError              the image build failed
    ├── EngineError             the Docker engine is missing or refused
    ├── PredictorError          user code cannot be loaded or served
    │   └── WorkerNotReady      the worker is (re)starting: wait for READY and retry (a 503)
    ├── PredictionFailed        a prediction ran and failed
    └── RegistryError           a push, pull or login failed

Each edge translates them once: the CLI renders one red line and the hint
(`cogkit.cli.render.error`; the traceback only with --debug), and the server maps them to
HTTP statuses (`cogkit.server.http_errors`, whose request and prediction errors subclass
UsageError and PredictionFailed). Anything else is a bug and shows a traceback. Every error
carries a one-line message and, where we know it, a hint that tells the user what to do next.

This module is stdlib-only: the worker imports it inside the user's interpreter.
"""

from __future__ import annotations

from typing import Optional


class CogkitError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class SpecError(CogkitError):
    """A mistake in cog.yaml. The message names file:line:col, the key path and the value."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
        key: Optional[str] = None,
        hint: Optional[str] = None,
    ) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        super().__init__(message, hint=hint)

    @property
    def location(self) -> str:
        parts = [self.file or "cog.yaml"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location + (f": {self.key}" if self.key else "")
        text = f"{where}: {self.message}"
        return text if not self.hint else f"{text}\n  hint: {self.hint}"


class PlanError(SpecError):
    """A spec that parses but names an impossible build (e.g. a CUDA that torch never shipped)."""


class UsageError(CogkitError):
    exit_code = 2


class BuildError(CogkitError):
    pass


class EngineError(CogkitError):
    pass


class PredictorError(CogkitError):
    pass


class WorkerNotReady(PredictorError):
    """A prediction sent while the worker restarts (after a crash or sys.exit). Not a failed
    prediction: the server waits for READY (`WorkerClient.wait_state_change`) or answers 503."""


class PredictionFailed(CogkitError):
    pass


class RegistryError(CogkitError):
    pass
