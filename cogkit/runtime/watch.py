"""Notice source edits for `cogkit serve --reload`, by polling modification times (no extra dependency)."""

from __future__ import annotations

import os
from pathlib import Path

SKIP_DIRS = {".cogkit", ".git", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache", ".ruff_cache"}
WATCHED_SUFFIXES = {".py", ".yaml", ".yml", ".json", ".txt", ".toml"}


def snapshot(root: Path) -> dict[str, int]:
    """Modification times of the files whose change should restart the worker."""
    found: dict[str, int] = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if Path(name).suffix in WATCHED_SUFFIXES:
                path = os.path.join(directory, name)
                try:
                    found[path] = os.stat(path).st_mtime_ns
                except FileNotFoundError:
                    continue
    return found


def changed(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Paths added, removed or modified between two snapshots."""
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k))
