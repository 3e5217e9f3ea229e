"""Read YAML into plain Python values while remembering where every key and value sat.

PyYAML's `safe_load` throws the positions away, so we compose the node tree and build
the values ourselves. Each value is recorded under its key path (`("build", "run", 0)`),
which lets a pydantic error location be mapped back to `file:line:col`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from cogkit.errors import SpecError

try:  # libyaml is several times faster and keeps the same marks
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - pure-python fallback
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

KeyPath = tuple[str | int, ...]

# Version-like scalars: an unquoted `3.10` must stay "3.10", not become the float 3.1.
VERSION_KEYS = frozenset({("build", "python_version"), ("build", "cuda"), ("build", "cudnn")})


_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"})
_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:float", "tag:yaml.org,2002:int"})


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class Document:
    """A parsed cog.yaml: its values, and where each key and each value was written."""

    data: Any
    values: dict[KeyPath, Mark] = field(default_factory=dict)
    keys: dict[KeyPath, Mark] = field(default_factory=dict)

    def mark(self, path: KeyPath) -> Mark | None:
        """The value's position, else the nearest enclosing one that was recorded."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return None

    def key_mark(self, path: KeyPath) -> Mark | None:
        return self.keys.get(path) or self.mark(path)


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def parse(text: str, file: str) -> Document:
    """Parse `text`; YAML syntax errors and duplicate keys become a SpecError with a position."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        lines = text.splitlines()
        bad_line = lines[mark.line] if mark and mark.line < len(lines) else ""
        hint = (
            "indent YAML with spaces, not tabs"
            if "\t" in bad_line
            else "check the indentation and that every list item starts with '- '"
        )
        raise SpecError(
            f"invalid YAML: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint=hint,
        ) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid YAML: {exc}", file=file) from exc
    doc = Document(data=None)
    try:
        if root is not None:
            doc.data = _build(root, (), doc, loader, file)
    except yaml.MarkedYAMLError as exc:  # e.g. a `!!python/object` tag the safe loader refuses
        mark = exc.problem_mark or exc.context_mark
        raise SpecError(
            f"invalid YAML: {exc.problem or exc.context}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            hint="cog.yaml holds plain values only: remove the !! tag",
        ) from exc
    finally:
        loader.dispose()
    return doc


def _build(node: yaml.Node, path: KeyPath, doc: Document, loader: Any, file: str) -> Any:
    doc.values[path] = _mark(node)
    if not isinstance(node, yaml.ScalarNode) and node.tag not in _PLAIN_TAGS:
        mark = _mark(node)
        raise SpecError(
            f"invalid YAML: the tag {node.tag} is not allowed",
            file=file,
            line=mark.line,
            column=mark.column,
            hint="cog.yaml holds plain values only: remove the !! tag",
        )
    if isinstance(node, yaml.MappingNode):
        written = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        loader.flatten_mapping(node)  # resolve `<<: *anchor` merge keys, as Cog's YAML reader does
        result: dict[str, Any] = {}
        explicit: set[str] = set()
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key = key if isinstance(key, str) else str(key)
            if key in result and key in explicit:  # a key written twice (merged ones may be overridden)
                mark = _mark(key_node)
                raise SpecError(
                    "duplicate key",
                    file=file,
                    line=mark.line,
                    column=mark.column,
                    key=".".join(str(p) for p in (*path, key)),
                    hint="remove one of the two entries",
                )
            if id(key_node) in written:
                explicit.add(key)
            doc.keys[(*path, key)] = _mark(key_node)
            result[key] = _build(value_node, (*path, key), doc, loader, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, index), doc, loader, file) for index, item in enumerate(node.value)]
    if path in VERSION_KEYS and isinstance(node, yaml.ScalarNode) and node.tag in _NUMBER_TAGS:
        return node.value
    return loader.construct_object(node, deep=True)
