"""Collect requirement lines, each with the file and line it came from.

They come either from `build.python_packages` (cog.yaml lines) or from the
`build.python_requirements` file, with `-r other.txt` includes expanded, so that the plan
can point an error at the exact line that caused it.
"""

from __future__ import annotations

import re
from pathlib import Path

from cogkit.errors import SpecError
from cogkit.spec.models import Build, SourceLine, display_path
from cogkit.spec.yamlmarks import Document

_INCLUDE = re.compile(r"^(-r|--requirement)(\s+|=)(?P<path>\S+)$")
_COMMENT = re.compile(r"(^|\s+)#.*$")
MAX_DEPTH = 8


def collect(build: Build, project: Path, shown: str, doc: Document) -> tuple[SourceLine, ...]:
    if build.python_packages is not None:
        lines = []
        for index, text in enumerate(build.python_packages):
            mark = doc.mark(("build", "python_packages", index))
            if text:
                lines.append(
                    SourceLine(
                        text=text,
                        file=shown,
                        line=mark.line if mark else None,
                        column=mark.column if mark else None,
                    )
                )
        return tuple(lines)
    if not build.python_requirements:
        return ()
    mark = doc.mark(("build", "python_requirements"))
    path = (project / build.python_requirements).resolve()
    if not path.is_file():
        raise SpecError(
            f"'{build.python_requirements}' does not exist",
            file=shown,
            line=mark.line if mark else None,
            column=mark.column if mark else None,
            key="build.python_requirements",
            hint=f"create {build.python_requirements} next to cog.yaml, or fix the path "
            "(it is relative to the folder that holds cog.yaml)",
        )
    return tuple(read_file(path))


def read_file(path: Path, depth: int = 0) -> list[SourceLine]:
    """Lines of a requirements file, joined across `\\` continuations, comments removed."""
    shown = display_path(path)
    if depth > MAX_DEPTH:
        raise SpecError("requirements files include each other too deeply (a loop?)", file=shown)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(
            "the requirements file is not UTF-8 text", file=shown, hint="save it as UTF-8"
        ) from exc
    result: list[SourceLine] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = _COMMENT.sub("", pending + raw).strip()
        pending = ""
        if not line:
            continue
        include = _INCLUDE.match(line)
        if include:
            target = (path.parent / include["path"]).resolve()
            if not target.is_file():
                raise SpecError(
                    f"included file '{include['path']}' does not exist",
                    file=shown,
                    line=start,
                    column=1,
                    hint="fix the -r path; it is relative to the file that includes it",
                )
            result.extend(read_file(target, depth + 1))
            continue
        result.append(SourceLine(text=line, file=shown, line=start, column=1))
    return result
