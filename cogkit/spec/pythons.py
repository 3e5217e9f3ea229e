"""Which Python versions a cog.yaml may ask for, and what we say about the others."""

from __future__ import annotations

import re

SUPPORTED = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
END_OF_LIFE = frozenset({"3.8", "3.9"})
DEFAULT = "3.12"
_FORMAT = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(\.(?P<patch>\d+))?$")


def minor(version: str) -> str:
    """'3.11.4' -> '3.11'."""
    major, rest = version.split(".", 1)
    return f"{major}.{rest.split('.', 1)[0]}"


def check(version: str) -> str:
    """Return the version unchanged if supported; raise ValueError naming the valid ones."""
    version = version.strip()
    match = _FORMAT.match(version)
    choices = ", ".join(SUPPORTED)
    if not match:
        raise ValueError(
            f"'{version}' is not a Python version; use one of {choices} (or a patch, e.g. 3.11.9)"
        )
    key = (int(match["major"]), int(match["minor"]))
    if key < (3, 8):
        raise ValueError(f"Python {version} is too old: cogkit supports {choices}")
    if minor(version) not in SUPPORTED:
        raise ValueError(f"Python {version} is not a version cogkit knows; use one of {choices}")
    return version


def warning_for(version: str) -> str | None:
    if minor(version) in END_OF_LIFE:
        return (
            f"build.python_version: Python {minor(version)} is past its end of life; "
            f"consider {DEFAULT} (security fixes have stopped)"
        )
    return None
