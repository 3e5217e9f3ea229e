"""The wheel carries the templates (as `cogkit/_templates`), and an installed cogkit finds them there."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    command = (
        [uv, "build", "--wheel", "--out-dir", str(out), str(REPO)]
        if uv
        else [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(REPO)]
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    (built,) = out.glob("cogkit-*.whl")
    return built


def test_wheel_contains_the_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in sorted((REPO / "templates").rglob("*")):
        if template.is_file():
            assert f"cogkit/_templates/{template.relative_to(REPO / 'templates').as_posix()}" in names


def test_installed_wheel_renders_from_its_own_templates(wheel: Path, tmp_path: Path) -> None:
    """Unpacked (as pip would), cogkit must read `cogkit/_templates`, not this checkout's folder."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    (site / "cogkit" / "_templates" / "Dockerfile.j2").write_text("marker from the wheel\n")
    probe = (
        "from cogkit.dockerfile.env import templates_dir; import cogkit;"
        "print(templates_dir()); print((templates_dir() / 'Dockerfile.j2').read_text())"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert str(site / "cogkit" / "_templates") in result.stdout
    assert "marker from the wheel" in result.stdout
