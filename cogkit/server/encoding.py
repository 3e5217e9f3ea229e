"""JSON bodies that carry multi-megabyte data URIs without scanning them character by character.

Out: a data URI that cogkit built itself is kept as `JsonText`, its bytes, which hold only
characters JSON never escapes. `dumps` leaves such values out of `json.dumps` (a short marker
stands in for each) and copies them into the body afterwards: a 5 MiB output file costs one
copy into the body, not an escaping scan, a str and two more copies (~15 ms per 7 MB string).

In: `loads` cuts each long `"data:…"` string that holds no escape out of the body before
`json.loads` (found with `bytes.find`, which runs at memory speed), and puts it back as a
string: a 7 MB request body parses in ~2 ms instead of ~13. The value is what `json.loads`
gives, except that control characters inside such a string are let through (they are not
base64, and the data URI's decoder skips them).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

# Per process and random, so no value a client or a model sends can contain it.
_MARK = f"cogkit-verbatim-{uuid.uuid4().hex}-"
_QUOTED_MARK = f'"{_MARK}'
CUT_CHARS = 64 << 10  # shorter strings are left to json


@dataclass(frozen=True, slots=True)
class JsonText:
    """A JSON string value as its ASCII bytes, none of which JSON escapes (a data URI cogkit
    encoded: its header and base64). Only `dumps` can write it; `json.dumps` refuses it."""

    data: bytes

    def __str__(self) -> str:
        return self.data.decode("ascii")


def dumps(value: Any, *, verbatim: bool = False) -> bytes:
    """`json.dumps(value).encode()`; with `verbatim`, `JsonText` values anywhere in `value`
    are copied into the result as JSON strings."""
    if not verbatim:
        return json.dumps(value).encode()
    kept: list[bytes] = []
    text = json.dumps(_swap(value, kept))
    if not kept:
        return text.encode()
    first, *rest = text.split(_QUOTED_MARK)
    parts = [first.encode()]
    for piece in rest:
        index, _, tail = piece.partition('"')
        parts += [b'"', kept[int(index)], b'"', tail.encode()]
    return b"".join(parts)


def loads(body: bytes) -> Any:
    """`json.loads(body)`, with long data URIs decoded from the body's bytes directly."""
    cut: list[str] = []
    pieces: list[bytes | memoryview] = []
    view = memoryview(body)
    done = 0  # the body up to here is in `pieces`
    at = body.find(b'"data:')
    while at >= 0:
        end = body.find(b'"', at + 1)
        if end < 0:
            break
        if end - at > CUT_CHARS and not _escaped(body, at) and body.find(b"\\", at, end) < 0:
            try:
                text = str(view[at + 1 : end], "ascii")
            except UnicodeDecodeError:  # not a data URI anyone sends: json decides
                text = None
            if text is not None:
                pieces += [view[done:at], f'"{_MARK}{len(cut)}"'.encode()]
                cut.append(text)
                done = end + 1
        at = body.find(b'"data:', end + 1 if done == end + 1 else at + 1)
    if not cut:
        return json.loads(body)
    pieces.append(view[done:])
    return _unswap(json.loads(b"".join(pieces)), cut)


def _escaped(body: bytes, quote: int) -> bool:
    """Whether the quote at `quote` is escaped (preceded by an odd number of backslashes)."""
    start = quote
    while start > 0 and body[start - 1] == 0x5C:
        start -= 1
    return (quote - start) % 2 == 1


def _unswap(value: Any, cut: list[str]) -> Any:
    """`value` with each marker string (or key) replaced by the text it stands for."""
    if isinstance(value, str):
        return cut[int(value[len(_MARK) :])] if value.startswith(_MARK) else value
    if isinstance(value, list):
        return [_unswap(item, cut) for item in value]
    if isinstance(value, dict):
        return {_unswap(key, cut): _unswap(item, cut) for key, item in value.items()}
    return value


def _swap(value: Any, kept: list[bytes]) -> Any:
    """`value` with each JsonText replaced by a marker naming its place in `kept`."""
    if isinstance(value, JsonText):
        kept.append(value.data)
        return f"{_MARK}{len(kept) - 1}"
    if isinstance(value, list | tuple):
        return [_swap(item, kept) for item in value]
    if isinstance(value, dict):
        return {key: _swap(item, kept) for key, item in value.items()}
    return value
