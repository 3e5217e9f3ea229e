"""The examples, end to end: hello-world, the image-in/image-out model and torch, in Docker and locally."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.conftest import EXAMPLES, Build, cogkit, copy_project

TORCH_VERSION = "2.13.0"


@pytest.fixture(scope="session")
def torch_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/torch-cpu with torch from a local CPU wheel (PyPI's torch is a multi-GB CUDA build).

    `pip download` copies the wheel from this machine's wheel cache; BuildKit's cache is keyed by
    content, so the copy in a fresh temp dir still hits the cache on the next run.
    """
    project = copy_project(EXAMPLES / "torch-cpu", tmp_path_factory.mktemp("torch") / "torch-cpu")
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", f"torch=={TORCH_VERSION}", "--no-deps", "-d", str(project)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    wheels = sorted(project.glob("torch-*.whl"))
    assert download.returncode == 0 and wheels, download.stderr[-2000:]
    (project / "requirements.txt").write_text(f"./{wheels[0].name}\n")
    return project


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    path = tmp_path / "in.png"
    Image.new("RGB", (40, 20), (200, 30, 30)).save(path)
    return path


@pytest.mark.docker
def test_hello_world_predict_builds_and_runs(
    tmp_path: Path, base_image: str, host_ca_cert: Path | None
) -> None:
    project = copy_project(EXAMPLES / "hello-world", tmp_path / "hello-world")
    result = cogkit("predict", "-i", "text=docker", cwd=project, ca_cert=host_ca_cert)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello docker\n"
    assert "runtime: docker" in result.stderr


def test_hello_world_locally(tmp_path: Path) -> None:
    project = copy_project(EXAMPLES / "hello-world", tmp_path / "hello-world")
    result = cogkit("run", "--runtime", "local", "-i", "text=local", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello local\n"


def _check_rotated(path: Path) -> None:
    with Image.open(path) as out:
        assert out.format == "PNG" and out.size == (20, 40)


@pytest.mark.docker
def test_image_in_image_out_in_docker(build: Build, tmp_path: Path, picture: Path) -> None:
    built = build(EXAMPLES / "image-pillow", tag="cogkit-e2e-pillow")
    result = cogkit("predict", built.tag, "-i", f"image=@{picture}", "-i", "operation=rotate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    _check_rotated(tmp_path / "output.png")


def test_image_in_image_out_locally(tmp_path: Path, picture: Path) -> None:
    project = copy_project(EXAMPLES / "image-pillow", tmp_path / "image-pillow")
    args = [
        "predict",
        "--runtime",
        "local",
        "-i",
        f"image=@{picture}",
        "-i",
        "operation=rotate",
        "-o",
        "r.png",
    ]
    result = cogkit(*args, cwd=project)
    assert result.returncode == 0, result.stderr
    _check_rotated(project / "r.png")


@pytest.mark.docker
def test_torch_from_a_local_wheel_in_docker(build: Build, tmp_path: Path, torch_project: Path) -> None:
    built = build(torch_project, tag="cogkit-e2e-torch")
    on = cogkit("predict", built.tag, "-i", "a=1", "-i", "b=0", cwd=tmp_path)
    off = cogkit("predict", built.tag, "-i", "a=1", "-i", "b=1", cwd=tmp_path)
    assert on.returncode == 0 and off.returncode == 0, on.stderr + off.stderr
    assert float(on.stdout) > 0.8 and float(off.stdout) < 0.2


def test_torch_from_a_local_wheel_locally(torch_project: Path) -> None:
    result = cogkit("predict", "--runtime", "local", "-i", "a=0", "-i", "b=1", cwd=torch_project)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) > 0.8
    shutil.rmtree(torch_project / ".cogkit" / "venv", ignore_errors=True)  # about 1 GB
    with contextlib.suppress(OSError):
        os.remove(torch_project / ".cogkit" / "requirements.txt")
