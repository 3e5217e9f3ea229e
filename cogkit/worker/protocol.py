"""The typed messages between the client (server process) and the child, one JSON array per line.

They travel over a dedicated socket, never stdout, which belongs to user output. Each message is
a small dataclass; on the wire it is `[tag, field, field, ...]` in field order (json escapes
newlines inside strings, so one line is always one whole message). Receivers dispatch on the
class, through a table.

Nothing inside a value is ever interpreted: what came from a client (inputs, context) or from
the model (outputs) is data, whatever its shape. Files travel out of band: `Output.files` lists,
for each file in the value, the path into the value (keys and indices) and the file's absolute
path, and the client makes `pathlib.Path` objects from that list only, where the value holds
that same string (`Output.value_with_files`).

An iterator's items travel in `Chunks` messages, each item with its own file list: one message
carries every item that was queued together in the child, so a burst of tokens costs the
client one decode and one event, not one per token (see channel.py for when they are joined).

A line that cannot be decoded (nested deeper than the receiver's recursion limit, or garbled)
still names its prediction: the tag and the id come first, so `ProtocolError.prediction_id`
lets the receiver fail that one prediction instead of losing it.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import os
import pathlib
import typing
from typing import Any, Callable, ClassVar, Dict, List, Optional, Tuple, Type

# -- parent → child -------------------------------------------------------------------------------


@dataclasses.dataclass
class Predict:
    TAG: ClassVar[str] = "predict"
    id: str
    input: Any
    context: Any


@dataclasses.dataclass
class Cancel:
    TAG: ClassVar[str] = "cancel"
    id: str


@dataclasses.dataclass
class HealthCheck:
    TAG: ClassVar[str] = "health"
    seq: int


@dataclasses.dataclass
class Shutdown:
    TAG: ClassVar[str] = "shutdown"


# -- child → parent -------------------------------------------------------------------------------


@dataclasses.dataclass
class Schema:
    """The predictor is imported: its OpenAPI document and what the server must know of it."""

    TAG: ClassVar[str] = "schema"
    schema: Dict[str, Any]
    max_concurrency: int
    is_async: bool
    output_is_iterator: bool
    has_healthcheck: bool


@dataclasses.dataclass
class SetupDone:
    TAG: ClassVar[str] = "setup_done"
    status: str  # "succeeded" | "failed"
    error: Optional[str]


@dataclasses.dataclass
class Log:
    """Text the model wrote; `id` None is setup's, or output no single prediction owns."""

    TAG: ClassVar[str] = "log"
    STREAMED: ClassVar[bool] = True
    id: Optional[str]
    stream: str  # "stdout" | "stderr"
    text: str


@dataclasses.dataclass
class Output:
    """The output of a predictor that returns (not yields) a value, and, out of band, its files."""

    TAG: ClassVar[str] = "output"
    STREAMED: ClassVar[bool] = True
    id: str
    value: Any
    files: List[Any]  # [[keys into value], absolute path], ...

    def value_with_files(self) -> Any:
        """The value with a `pathlib.Path` at each position `files` names, and nowhere else."""
        return _with_files(self.value, self.files, self.id) if self.files else self.value


@dataclasses.dataclass
class Chunks:
    """Items of an iterator output, in the order yielded: one or more, each `[value, files]`
    as in `Output`. Built by the child's sender from encoded items (`encode_chunk`, `join_chunks`)."""

    TAG: ClassVar[str] = "chunks"
    STREAMED: ClassVar[bool] = True
    id: str
    items: List[Any]  # [[value, [[keys into value], absolute path], ...]], ...]

    def values_with_files(self) -> List[Any]:
        """The items' values, each with its files made `pathlib.Path` as `Output` does."""
        values = []
        for item in self.items:
            if type(item) is not list or len(item) != 2 or type(item[1]) is not list:
                raise ProtocolError(f"a chunk is not [value, files]: {item!r:.200}", prediction_id=self.id)
            value, files = item
            values.append(_with_files(value, files, self.id) if files else value)
        return values


@dataclasses.dataclass
class Done:
    TAG: ClassVar[str] = "done"
    id: str
    status: str  # "succeeded" | "failed" | "canceled"
    error: Optional[str]
    metrics: Dict[str, Any]


@dataclasses.dataclass
class HealthResult:
    TAG: ClassVar[str] = "health_result"
    seq: int
    result: Optional[bool]  # None: the predictor has no healthcheck()
    error: Optional[str]


@dataclasses.dataclass
class Fatal:
    """The predictor cannot be loaded; the child exits."""

    TAG: ClassVar[str] = "fatal"
    error: str


@dataclasses.dataclass
class Exiting:
    """The child is about to exit (a prediction called sys.exit): send it nothing more.

    It goes out before that prediction's `Done`, so the client has left READY by the time the
    server sees the prediction end.
    """

    TAG: ClassVar[str] = "exiting"
    reason: str


Message = Any  # one of the classes above
TO_CHILD: Dict[str, Type[Any]] = {c.TAG: c for c in (Predict, Cancel, HealthCheck, Shutdown)}
FROM_CHILD: Dict[str, Type[Any]] = {
    c.TAG: c for c in (Schema, SetupDone, Log, Output, Chunks, Done, HealthResult, Fatal, Exiting)
}
# Messages whose first field is a prediction id, and whose loss must fail that prediction.
ABOUT_A_PREDICTION = {Predict.TAG, Log.TAG, Output.TAG, Chunks.TAG, Done.TAG}


class ProtocolError(Exception):
    """A message that cannot be encoded or decoded; `prediction_id` names the prediction it
    belonged to, when that much could be read."""

    def __init__(self, message: str, *, prediction_id: Optional[str] = None) -> None:
        super().__init__(message)
        self.prediction_id = prediction_id


def encode(message: Message) -> bytes:
    """One message as one line. Raises ProtocolError for a value JSON cannot hold (too deep,
    circular, or of a type json does not know)."""
    try:
        text = _ENCODER.encode(_AS_LIST[type(message)](message))
    except RecursionError:
        raise ProtocolError("the value is nested too deeply to send", prediction_id=_id_of(message)) from None
    except (TypeError, ValueError) as e:
        raise ProtocolError(f"the value cannot be sent: {e}", prediction_id=_id_of(message)) from None
    return (text + "\n").encode()


def encode_chunk(prediction_id: str, value: Any, files: List[Any]) -> bytes:
    """One item of a `Chunks` message, encoded once, where it is yielded: a value JSON cannot
    hold fails that prediction there, as `encode` does."""
    try:
        return _ENCODER.encode([value, files]).encode()
    except RecursionError:
        raise ProtocolError("the value is nested too deeply to send", prediction_id=prediction_id) from None
    except (TypeError, ValueError) as e:
        raise ProtocolError(f"the value cannot be sent: {e}", prediction_id=prediction_id) from None


def join_chunks(prediction_id: str, items: List[bytes]) -> bytes:
    """The `Chunks` line for items from `encode_chunk`, in order: JSON composes, so nothing is
    encoded again."""
    return b'["%s",%s,[%s]]\n' % (
        Chunks.TAG.encode(),
        _ENCODER.encode(prediction_id).encode(),
        b",".join(items),
    )


def decode(line: bytes, table: Dict[str, Type[Any]]) -> Message:
    """One line back into its message; checks the tag, the field count and the simple field types."""
    try:
        items = _DECODER.decode(line.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise _broken(line, table, f"not a message ({type(e).__name__}: {e})") from None
    tag = items[0] if isinstance(items, list) and items else None
    cls = table.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise _broken(line, table, "unknown message")
    checks = _CHECKS[cls]
    if len(items) != len(checks) + 1:
        raise _broken(line, table, f"{tag!r} takes {len(checks)} fields")
    for position, (name, types) in enumerate(checks, 1):
        if types and not isinstance(items[position], types):
            raise _broken(line, table, f"{tag!r} field {name} is {type(items[position]).__name__}")
    return cls(*items[1:])


def _broken(line: bytes, table: Dict[str, Type[Any]], why: str) -> ProtocolError:
    return ProtocolError(f"{why}: {line[:200]!r}", prediction_id=_salvage_id(line, table))


def _salvage_id(line: bytes, table: Dict[str, Type[Any]]) -> Optional[str]:
    """The prediction id of a line that does not decode as a whole: `["tag","id",...`."""
    text = line.decode("utf-8", "replace")
    try:
        start = _skip_space(text, 0)
        if text[start : start + 1] != "[":
            return None
        tag, end = _DECODER.raw_decode(text, _skip_space(text, start + 1))
        end = _skip_space(text, end)
        if tag not in table or tag not in ABOUT_A_PREDICTION or text[end : end + 1] != ",":
            return None
        prediction_id, _ = _DECODER.raw_decode(text, _skip_space(text, end + 1))
    except (ValueError, RecursionError, TypeError):  # TypeError: an unhashable tag
        return None
    return prediction_id if isinstance(prediction_id, str) else None


def _skip_space(text: str, index: int) -> int:
    while text[index : index + 1].isspace():
        index += 1
    return index


def _id_of(message: Message) -> Optional[str]:
    return message.id if message.TAG in ABOUT_A_PREDICTION else None


def _with_files(value: Any, files: List[Any], prediction_id: str) -> Any:
    """`value` with a `pathlib.Path` at each position `files` names: `[[keys], absolute path], ...`."""
    for entry in files:
        try:
            keys, path = entry
            if not isinstance(path, str) or not os.path.isabs(path) or not isinstance(keys, list):
                raise TypeError("not [keys, absolute path]")
            if not keys:
                if value != path:
                    raise ValueError("the value is not that path")
                value = pathlib.Path(path)
                continue
            container = value
            for key in keys[:-1]:
                container = _step(container, key)
            if _step(container, keys[-1]) != path:
                raise ValueError("the value there is not that path")
            container[keys[-1]] = pathlib.Path(path)
        except (TypeError, ValueError, KeyError, IndexError) as e:
            raise ProtocolError(f"output file entry {entry!r}: {e}", prediction_id=prediction_id) from None
    return value


def _step(container: Any, key: Any) -> Any:
    """container[key], for a dict with a str key or a list with an int index only."""
    if isinstance(container, dict) and isinstance(key, str):
        return container[key]
    if isinstance(container, list) and type(key) is int and key >= 0:
        return container[key]
    raise TypeError(f"no {type(key).__name__} key {key!r} in a {type(container).__name__}")


def _isinstance_check(hint: Any) -> Tuple[type, ...]:
    """The types a field's value may have on the wire; () when anything goes (Any)."""
    if hint is Any:
        return ()
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return tuple(t for arg in typing.get_args(hint) for t in _isinstance_check(arg))
    if origin is not None:
        return (origin,)  # Dict[...] → dict, List[...] → list
    return (hint,) if isinstance(hint, type) else ()


def _field_checks(cls: Type[Any]) -> List[Tuple[str, Tuple[type, ...]]]:
    hints = typing.get_type_hints(cls)
    return [(f.name, _isinstance_check(hints[f.name])) for f in dataclasses.fields(cls)]


_CHECKS = {cls: _field_checks(cls) for cls in (*TO_CHILD.values(), *FROM_CHILD.values())}


def _as_list(cls: Type[Any]) -> Callable[[Any], List[Any]]:
    """`[TAG, field, ...]` for a message of `cls`; a field getter built once per class."""
    names = [name for name, _ in _CHECKS[cls]]
    if not names:
        return lambda message: [cls.TAG]
    get = operator.attrgetter(*names)
    if len(names) == 1:
        return lambda message: [cls.TAG, get(message)]
    return lambda message: [cls.TAG, *get(message)]


_AS_LIST = {cls: _as_list(cls) for cls in _CHECKS}
# Built once: json.dumps/json.loads with options build a new encoder/decoder on every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()
