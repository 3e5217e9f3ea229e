"""The cogkit that goes into an image: this very installation's package and its server dependencies.

A development checkout bakes in its own code (so tests exercise what they build), and a wheel
install bakes in the wheel's. The package is copied, not pip-installed, so that a cogkit edit
costs one small `COPY` and never reinstalls the server's third-party dependencies.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import cogkit

# Nothing else from the package is needed at run time.
_SKIPPED_DIRS = {"__pycache__", "_templates"}
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def package_dir() -> Path:
    """The directory `import cogkit` loaded from."""
    return Path(cogkit.__file__).resolve().parent


# The distributions the prediction server imports. Only these go into an image's server venv:
# the CLI's libraries (rich, click, jinja2, docker, …) would be dead weight there.
SERVER_PACKAGES = frozenset(
    {
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "httpx",
        "prometheus-client",
        "pybase64",
        "redis",
        "stamina",
    }
)


def server_requirements() -> list[str]:
    """cogkit's declared dependencies that the server needs, as requirement lines."""
    try:
        declared = metadata.requires("cogkit") or []
    except metadata.PackageNotFoundError:
        declared = []
    return [line for line in declared if _name(line) in SERVER_PACKAGES and "extra" not in line]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def package_files() -> dict[str, Path]:
    """`cogkit/…` relative path → source file, for every runtime file of the package."""
    root = package_dir()
    files: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if _SKIPPED_DIRS.intersection(relative.parts) or path.suffix in _SKIPPED_SUFFIXES:
            continue
        if path.is_file():
            files[f"cogkit/{relative.as_posix()}"] = path
    return files


def dist_info() -> dict[str, str]:
    """A minimal `.dist-info` so that `importlib.metadata.version("cogkit")` works in the image."""
    version = getattr(cogkit, "__version__", "0")
    folder = f"cogkit-{version}.dist-info"
    requires = "".join(f"Requires-Dist: {line}\n" for line in server_requirements())
    return {
        f"{folder}/METADATA": f"Metadata-Version: 2.1\nName: cogkit\nVersion: {version}\n{requires}",
        f"{folder}/INSTALLER": "cogkit\n",
        f"{folder}/RECORD": "",
    }
