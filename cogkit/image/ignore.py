"""Which project files go into an image: the user's `.dockerignore`, with Docker's own semantics.

Matching is docker-py's implementation of the `.dockerignore` rules (`**`, `!` exceptions,
last match wins), so cogkit includes exactly what `docker build .` would send.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from docker.utils.build import PatternMatcher

# Never in an image, whatever the user's .dockerignore says: history, and cogkit's own cache.
ALWAYS_EXCLUDED = (".git", ".cogkit")


@dataclass(frozen=True)
class Entry:
    """One path in the project, relative and with forward slashes."""

    path: str
    kind: str  # "file", "dir" or "link"
    size: int


def read_patterns(project_dir: Path) -> list[str]:
    """The patterns in `.dockerignore` (comments and blank lines dropped), then cogkit's own."""
    patterns: list[str] = []
    ignore_file = project_dir / ".dockerignore"
    if ignore_file.is_file():
        for line in ignore_file.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                patterns.append(line)
    # Appended last so that no `!` exception in the user's file can bring them back.
    patterns.extend(ALWAYS_EXCLUDED)
    return patterns


def project_entries(project_dir: Path) -> list[Entry]:
    """Every file, directory and symlink that `.dockerignore` lets through, sorted by path."""
    matcher = PatternMatcher(read_patterns(project_dir))
    entries: list[Entry] = []
    for relative in matcher.walk(str(project_dir)):
        path = project_dir / relative
        info = path.lstat()
        if path.is_symlink():
            kind = "link"
        elif path.is_dir():
            kind = "dir"
        elif path.is_file():
            kind = "file"
        else:
            continue  # sockets, fifos: Docker cannot send them either
        entries.append(Entry(relative.replace(os.sep, "/"), kind, info.st_size if kind == "file" else 0))
    entries.sort(key=lambda entry: entry.path)
    return entries
