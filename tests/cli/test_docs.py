"""docs/cli.md is the commands' own help, regenerated; docs/architecture.md names modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

from cogkit.cli import reference

REPO = Path(__file__).resolve().parent.parent.parent


def test_cli_reference_is_current() -> None:
    written = (REPO / "docs" / "cli.md").read_text()
    assert written == reference.render(), "run `python -m cogkit.cli.reference > docs/cli.md`"


def test_architecture_names_only_modules_that_exist() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`(cogkit/[\w/]+(?:\.py)?)`", text))
    assert named, "the architecture document should name cogkit's modules"
    missing = sorted(path for path in named if not (REPO / path).exists())
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"
