"""Each command maps its flags onto one library call (the library itself is tested end to end)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cogkit.cli import predict
from cogkit.cli.main import cli
from cogkit.image import build as image_build
from cogkit.image.progress import Step


def test_build_flags_map_onto_build_project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def fake_build_project(config: Path | None, **kwargs: Any) -> Any:
        seen.update(kwargs, config=config)
        step = Step(key="#1", name="[1/1] RUN true", status="done", seconds=0.5)
        return type(
            "Built",
            (),
            {"steps": [step], "seconds": 1.0, "tag": "t", "image_id": "sha256:abc", "backend": "buildkit"},
        )

    monkeypatch.setattr(image_build, "build_project", fake_build_project)
    (tmp_path / "token").write_text("v")
    (tmp_path / "ca.pem").write_text("pem")
    args = [
        "build", "-t", "me/model:1", "--no-cache", "--progress", "plain", "--base-image", "mirror/python:3.11-slim",
        "--secret", f"id=token,src={tmp_path / 'token'}", "--ca-cert", str(tmp_path / "ca.pem"), "-f", "x/cog.yaml",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert seen["tag"] == "me/model:1" and seen["no_cache"] is True and seen["on_event"].mode == "plain"
    assert seen["base_image"] == "mirror/python:3.11-slim" and seen["ca_cert"] == tmp_path / "ca.pem"
    assert [s.id for s in seen["secrets"]] == ["token"] and seen["config"] == Path("x/cog.yaml")


def test_bad_secret_flag_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["build", "--secret", "token"])
    assert result.exit_code == 2
    assert "id=NAME,src=FILE" in result.output


@pytest.mark.parametrize("name", ["predict", "run"])
def test_predict_and_run_map_onto_run_once(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(predict, "run_once", lambda image, **kwargs: seen.update(kwargs, image=image))
    args = [
        name,
        "img:1",
        "-i",
        "a=1",
        "-i",
        "b=@f",
        "-o",
        "out.png",
        "-e",
        "K=V",
        "--runtime",
        "docker",
        "--gpus",
        "1",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (
        seen["image"] == "img:1"
        and seen["inputs"] == ("a=1", "b=@f")
        and seen["output_path"] == Path("out.png")
    )
    flags = seen["flags"]
    assert flags.environment == {"K": "V"} and flags.runtime == "docker" and flags.gpus == "1"
    assert seen["endpoint"] == "predictions" and seen["component"] == "Input"


def test_train_maps_onto_trainings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(predict, "run_once", lambda image, **kwargs: seen.update(kwargs, image=image))
    result = CliRunner().invoke(cli, ["train", "-i", "text=x"])
    assert result.exit_code == 0, result.output
    assert seen["endpoint"] == "trainings" and seen["component"] == "TrainingInput"
    assert seen["default_file"] == Path("weights") and seen["image"] is None


def test_malformed_env_flag_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["predict", "img", "-e", "NOEQUALS"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output
