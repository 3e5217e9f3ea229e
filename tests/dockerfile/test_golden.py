"""Golden Dockerfiles: cog.yaml → load_spec → resolve → render, compared byte for byte.

Regenerate after an intended change with `UPDATE_GOLDEN=1 .venv/bin/pytest tests/dockerfile`,
then review the diff of tests/dockerfile/golden/ like code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cogkit.image.preview import preview
from tests.dockerfile.plans import GOLDEN, SPECS

# name → render options; every spec folder renders plain (BuildKit), a few more variants too.
EXTRA_VARIANTS: dict[str, list[str]] = {
    "cpu-requirements": ["legacy", "ca"],
    "system-packages": ["legacy"],
    "gpu-cuda-runtime": ["legacy", "ca"],
}
OPTIONS = {"": {}, "legacy": {"buildkit": False}, "ca": {"ca_cert": True}}


def cases() -> list[tuple[str, str]]:
    names = sorted(path.name for path in SPECS.iterdir() if (path / "cog.yaml").is_file())
    return [(name, variant) for name in names for variant in ["", *EXTRA_VARIANTS.get(name, [])]]


def golden_path(name: str, variant: str) -> Path:
    return GOLDEN / (f"{name}.{variant}.Dockerfile" if variant else f"{name}.Dockerfile")


def test_enough_golden_specs() -> None:
    assert len({name for name, _ in cases()}) >= 12


def test_no_stale_golden_files() -> None:
    """A golden file without a spec is dead weight; UPDATE_GOLDEN=1 deletes it."""
    expected = {golden_path(name, variant).name for name, variant in cases()}
    stale = sorted(path for path in GOLDEN.glob("*.Dockerfile") if path.name not in expected)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        for path in stale:
            path.unlink()
        stale = []
    assert not stale, f"stale golden files (no spec in {SPECS.name}/): {[p.name for p in stale]}"


@pytest.mark.parametrize(("name", "variant"), cases(), ids=lambda value: value or "buildkit")
def test_golden(name: str, variant: str) -> None:
    rendered = preview(SPECS / name / "cog.yaml", **OPTIONS[variant]).dockerfile
    golden = golden_path(name, variant)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(rendered, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden.name}; create it with UPDATE_GOLDEN=1"
    assert rendered == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; review, then UPDATE_GOLDEN=1"
    )


@pytest.mark.parametrize(("name", "variant"), cases(), ids=lambda value: value or "buildkit")
def test_golden_passes_hadolint(name: str, variant: str, hadolint: str, tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(preview(SPECS / name / "cog.yaml", **OPTIONS[variant]).dockerfile, encoding="utf-8")
    out = subprocess.run(
        [hadolint, "--no-color", "--format", "json", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    findings = json.loads(out.stdout or "[]")
    serious = [f for f in findings if f["level"] in ("error", "warning")]
    assert not serious, "\n".join(f"{f['line']}: {f['code']} {f['level']}: {f['message']}" for f in serious)


@pytest.mark.parametrize("name", sorted({name for name, _ in cases()}))
def test_predict_py_edit_keeps_every_line_before_the_code_copy(name: str, tmp_path: Path) -> None:
    project = tmp_path / name
    shutil.copytree(SPECS / name, project)
    before = preview(project / "cog.yaml").dockerfile.splitlines()
    predict = project / "predict.py"
    predict.write_text(predict.read_text() + "\n\ndef helper() -> int:\n    return 1\n")
    after = preview(project / "cog.yaml").dockerfile.splitlines()
    code_copy = max(i for i, line in enumerate(before) if line.startswith("COPY src/ /src/"))
    assert after[:code_copy] == before[:code_copy]
