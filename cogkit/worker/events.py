"""What the server sees of a worker: its state, its setup result and the events of a prediction."""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Any, Dict, List, Optional, Union


class WorkerState(str, enum.Enum):
    STARTING = "STARTING"
    READY = "READY"
    BUSY = "BUSY"
    SETUP_FAILED = "SETUP_FAILED"
    DEFUNCT = "DEFUNCT"


@dataclasses.dataclass
class SetupResult:
    status: str  # "succeeded" | "failed"
    logs: str
    started_at: datetime.datetime
    completed_at: Optional[datetime.datetime]
    error: Optional[str] = None


@dataclasses.dataclass
class LogEvent:
    stream: str  # "stdout" | "stderr"
    text: str


@dataclasses.dataclass
class OutputEvent:
    """The output of a predictor that returns (not yields) a value.

    Files are `pathlib.Path` objects inside the value, made only from the worker's out-of-band
    file list; the server encodes them. A temporary copy the worker made of a file-like output
    is deleted once the consumer asks for the next event.
    """

    value: Any


@dataclasses.dataclass
class ChunksEvent:
    """Items of an iterator output, in the order yielded: all those that arrived in one message
    (one item when the predictor yields slowly, many in a burst). Files as in `OutputEvent`."""

    values: List[Any]


@dataclasses.dataclass
class DoneEvent:
    status: str  # "succeeded" | "failed" | "canceled"
    error: Optional[str] = None
    metrics: Dict[str, Any] = dataclasses.field(default_factory=dict)


WorkerEvent = Union[LogEvent, OutputEvent, ChunksEvent, DoneEvent]

# Which state may follow which; the client refuses any other transition (a bug, not a user error).
TRANSITIONS = {
    WorkerState.STARTING: {WorkerState.READY, WorkerState.SETUP_FAILED, WorkerState.DEFUNCT},
    WorkerState.READY: {WorkerState.BUSY, WorkerState.STARTING, WorkerState.DEFUNCT},
    WorkerState.BUSY: {WorkerState.READY, WorkerState.STARTING, WorkerState.DEFUNCT},
    WorkerState.SETUP_FAILED: {WorkerState.DEFUNCT},
    WorkerState.DEFUNCT: set(),
}


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)
