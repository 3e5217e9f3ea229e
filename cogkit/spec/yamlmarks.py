"""Read YAML into plain Python values while remembering where every key and value sat.

PyYAML's `safe_load` throws the positions away, so we compose the node tree and build
the values ourselves. Each value is recorded under its key path (`("build", "run", 0)`),
which lets a pydantic error location be mapped back to `file:line:col`.

Aliases make the composed tree a graph: a 500-byte file of 9 anchors, each aliasing the one
before it 9 times, expands to 9⁹ values. Before building anything, the expanded size is counted
once per distinct node (memoised, so the count itself is cheap), and a file that would expand
past MAX_VALUES values, nest past MAX_DEPTH levels, or alias itself is refused.
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


# A real cog.yaml has tens of values (a long python_packages list, a few hundred): far below these.
MAX_VALUES = 10_000
MAX_DEPTH = 64

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
            _check_expansion(root, file)
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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, file: str) -> None:
    """Refuse documents whose aliases expand too far, nest too deep, or refer to themselves."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def refuse(node: yaml.Node, message: str, hint: str) -> SpecError:
        mark = _mark(node)
        return SpecError(f"invalid YAML: {message}", file=file, line=mark.line, column=mark.column, hint=hint)

    def size(node: yaml.Node, depth: int) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in open_nodes:
            raise refuse(node, "an alias refers to the value that contains it", "remove the circular alias")
        if depth > MAX_DEPTH:
            raise refuse(node, f"values nested more than {MAX_DEPTH} levels deep", "flatten the structure")
        open_nodes.add(id(node))
        total = 1 + sum(size(child, depth + 1) for child in _children(node))
        open_nodes.discard(id(node))
        if total > MAX_VALUES:
            raise refuse(
                node,
                f"aliases expand this value to more than {MAX_VALUES} values (an alias bomb?)",
                "cog.yaml needs no more than a few hundred values: use fewer aliases (*name)",
            )
        sizes[id(node)] = total
        return total

    size(root, 0)


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
