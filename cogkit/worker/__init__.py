"""The worker: the child process that runs user code, and the client the server drives it with.

Standard library only, Python 3.8+: the child runs in the user's interpreter. `sdk_path()` makes
the private import folder that lets `from cog import ...` resolve to cogkit's SDK there.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import tempfile

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent
SHIM_DIR = pathlib.Path(__file__).resolve().parent / "shim" / "cog"


def sdk_path() -> pathlib.Path:
    """A folder holding `cogkit` (a link to this package) and `cog` (the shim); made once, cached.

    `COGKIT_SDK_PATH` names a pre-made one (images build it at build time). Otherwise it lives in
    the user's cache, or the temp dir when that is read-only; the name hashes the package path.
    """
    preset = os.environ.get("COGKIT_SDK_PATH")
    if preset:
        return pathlib.Path(preset)
    digest = hashlib.sha256(str(PACKAGE_DIR).encode()).hexdigest()[:12]
    for base in _cache_roots():
        target = base / f"sdk-{digest}"
        if _valid(target):
            return target
        try:
            return _create(target)
        except OSError:
            continue
    raise OSError("cannot create the cogkit SDK folder in the user cache or the temp directory")


def _cache_roots() -> list:
    roots = []
    xdg = os.environ.get("XDG_CACHE_HOME")
    home = pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache"
    roots.append(home / "cogkit")
    roots.append(pathlib.Path(tempfile.gettempdir()) / f"cogkit-{os.getuid()}")
    return roots


def _valid(target: pathlib.Path) -> bool:
    link = target / "cogkit"
    shim = target / "cog"
    return (
        link.is_symlink()
        and link.resolve() == PACKAGE_DIR
        and shim.is_symlink()
        and shim.resolve() == SHIM_DIR
    )


def _create(target: pathlib.Path) -> pathlib.Path:
    """Build in a scratch folder and rename into place, so concurrent callers never see half of it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix=".sdk-", dir=str(target.parent)))
    try:
        (scratch / "cogkit").symlink_to(PACKAGE_DIR, target_is_directory=True)
        (scratch / "cog").symlink_to(SHIM_DIR, target_is_directory=True)
        if target.exists() and not _valid(target):
            shutil.rmtree(str(target), ignore_errors=True)
        try:
            os.rename(str(scratch), str(target))
        except OSError:
            if not _valid(target):  # another process won the race with a valid folder, or not
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(str(scratch), ignore_errors=True)
    return target
