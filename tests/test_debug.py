"""`cogkit debug`: the Dockerfile or the plan as JSON, warnings on stderr, errors without tracebacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cogkit.cli.main import cli
from cogkit.dockerfile import render
from cogkit.plan import resolve
from cogkit.spec import load_spec

SPECS = Path(__file__).resolve().parent / "dockerfile" / "specs"
HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello-world"
REQUIRED_KEYS = {
    "python_version": str,
    "gpu": bool,
    "base_image": str,
    "extra_index_urls": list,
    "system_packages": list,
    "predictor": str,
    "reasons": list,
    "warnings": list,
}


@pytest.fixture
def gpu_project(tmp_path: Path) -> Path:
    shutil.copytree(SPECS / "gpu-torch-2.1", tmp_path / "gpu")
    return tmp_path / "gpu"


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def test_debug_prints_the_dockerfile(gpu_project: Path) -> None:
    result = invoke("debug", "-f", str(gpu_project / "cog.yaml"))
    assert result.exit_code == 0, result.output
    expected = render(resolve(load_spec(gpu_project / "cog.yaml")))
    assert result.stdout == expected


def test_debug_json_has_the_plan(gpu_project: Path) -> None:
    result = invoke("debug", "-f", str(gpu_project / "cog.yaml"), "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    for key, kind in REQUIRED_KEYS.items():
        assert isinstance(plan[key], kind), key
    for key in ("cuda", "cudnn", "min_nvidia_driver"):
        assert plan[key] is None or isinstance(plan[key], str)
    assert plan["gpu"] is True
    assert plan["cuda"] == "12.1"
    # PyPI's torch 2.1.0 Linux wheel is the CUDA 12.1 build: no extra index is needed.
    assert plan["extra_index_urls"] == []
    assert any("from PyPI" in reason for reason in plan["reasons"])
    assert plan["predictor"] == "predict.py:Predictor"


def test_debug_finds_cog_yaml_by_walking_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HELLO)
    result = invoke("debug", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["python_version"] == "3.11"


def test_debug_base_image_override(gpu_project: Path) -> None:
    mirror = "registry.example.com/mirror/python:3.11-slim"
    result = invoke("debug", "-f", str(gpu_project / "cog.yaml"), "--base-image", mirror)
    assert result.exit_code == 0, result.output
    assert f"\nFROM {mirror}\n" in result.stdout
    assert f"\nFROM {mirror} AS uv\n" in result.stdout


def test_debug_shows_large_files_as_weight_layers(tmp_path: Path) -> None:
    project = tmp_path / "weights"
    shutil.copytree(HELLO, project)
    with (project / "model.bin").open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)
    result = invoke("debug", "-f", str(project / "cog.yaml"))
    assert result.exit_code == 0, result.output
    assert 'COPY ["weights/model.bin", "/src/model.bin"]' in result.stdout
    assert json.loads(invoke("debug", "-f", str(project / "cog.yaml"), "--json").stdout)["weights"] == [
        "model.bin"
    ]


def test_spec_warnings_go_to_stderr(tmp_path: Path) -> None:
    project = tmp_path / "old"
    shutil.copytree(SPECS / "train-concurrency", project)
    result = invoke("debug", "-f", str(project / "cog.yaml"), "--json")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr
    assert "pre_install" in result.stderr
    json.loads(result.stdout)  # stdout stays pure JSON


def test_spec_error_exits_2_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "cog.yaml").write_text('build:\n  python_verison: "3.11"\npredict: "predict.py:Predictor"\n')
    (tmp_path / "predict.py").write_text("")
    result = invoke("debug", "-f", str(tmp_path / "cog.yaml"))
    assert result.exit_code == 2
    assert "cog.yaml:2" in result.stderr
    assert "python_version" in result.stderr
    assert "Traceback" not in result.output


def test_missing_cog_yaml_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("debug")
    assert result.exit_code == 2
    assert "cogkit init" in result.stderr
