"""Mirror a set of files into a directory cheaply: hard links where possible, cached copies elsewhere.

Staging runs before every build, so it must cost milliseconds when nothing changed. An
entry already in place with the same size and mtime is kept; anything else is unlinked and
linked (or copied, across filesystems) afresh. Files are never written in place, because a
hard-linked file shares its inode with the user's original.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path


def _same(source: os.stat_result, target: os.stat_result) -> bool:
    if (source.st_dev, source.st_ino) == (target.st_dev, target.st_ino):
        return True
    return (
        source.st_size == target.st_size
        and source.st_mtime_ns == target.st_mtime_ns
        and stat.S_IMODE(source.st_mode) == stat.S_IMODE(target.st_mode)
    )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _place_file(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        # Another filesystem, or one without hard links: copy, keeping mtime for the next comparison.
        shutil.copy2(source, target)


def sync_tree(entries: Mapping[str, Path | None], dest: Path) -> None:
    """Make `dest` hold exactly `entries`: relative path → source file or symlink (None: a directory)."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted_dirs = {rel for rel, source in entries.items() if source is None}
    for rel in entries:
        wanted_dirs.update(parent.as_posix() for parent in Path(rel).parents)
    wanted_dirs.discard(".")
    for rel in sorted(wanted_dirs):
        target = dest / rel
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()
        target.mkdir(parents=True, exist_ok=True)
    for rel, source in entries.items():
        if source is None:
            continue
        target = dest / rel
        try:
            current = target.lstat()
        except FileNotFoundError:
            current = None
        if source.is_symlink():
            link = os.readlink(source)
            if current is not None and stat.S_ISLNK(current.st_mode) and os.readlink(target) == link:
                continue
            if current is not None:
                _remove(target)
            os.symlink(link, target)
            continue
        if current is not None:
            if stat.S_ISREG(current.st_mode) and _same(source.stat(), current):
                continue
            _remove(target)
        _place_file(source, target)
    _prune(dest, set(entries) | wanted_dirs)


def _prune(dest: Path, keep: set[str]) -> None:
    """Delete what a previous staging left that this one does not want (deepest first)."""
    for root, dirs, files in os.walk(dest, topdown=False):
        base = Path(root).relative_to(dest).as_posix()
        for name in files + dirs:
            rel = name if base == "." else f"{base}/{name}"
            if rel not in keep:
                _remove(Path(root) / name)
