"""Each command maps its flags onto one library call, mocked here (the library is tested end to end)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cogkit.cli.main import cli
from cogkit.image import build as image_build
from cogkit.image.progress import Step
from cogkit.mode import Mode
from cogkit.runtime import predict, serve, session
from cogkit.runtime.backend import Notice, ServerLine
from cogkit.runtime.predict import Outcome


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


def record_run_once(
    monkeypatch: pytest.MonkeyPatch, response: dict[str, Any] | None = None
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def fake(config: Any, **kwargs: Any) -> Outcome:
        seen.update(kwargs, config=config)
        kwargs["report"](Notice("a [bold]notice[/bold]"))
        kwargs["report"](ServerLine("model says [red]hi[/]"))
        kwargs["write"]("the output\n")
        return Outcome(kwargs["mode"], response or {"status": "succeeded", "output": "the output"})

    monkeypatch.setattr(predict, "run_once", fake)
    return seen


@pytest.mark.parametrize("name", ["predict", "run"])
def test_predict_and_run_map_onto_run_once(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    seen = record_run_once(monkeypatch)
    args = [
        name, "img:1", "-i", "a=1", "-i", "b=@f", "-o", "out.png", "-e", "K=V",
        "--runtime", "docker", "--gpus", "1", "--setup-timeout", "42",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert seen["image"] == "img:1" and seen["inputs"] == ("a=1", "b=@f")
    assert seen["output_path"] == Path("out.png") and seen["setup_timeout"] == 42.0
    assert seen["mode"] is Mode.PREDICT and seen["verbose"] is False
    config = seen["config"]
    assert config.environment == {"K": "V"} and config.runtime == "docker" and config.gpus == "1"
    # Events and output go through the CLI's one printer, verbatim (no markup is interpreted).
    assert result.stdout == "the output\n"
    assert "a [bold]notice[/bold]" in result.stderr and "model says [red]hi[/]" in result.stderr


def test_train_maps_onto_run_once_in_train_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = record_run_once(monkeypatch)
    result = CliRunner().invoke(cli, ["train", "-i", "text=x", "--debug"])
    assert result.exit_code == 0, result.output
    assert seen["mode"] is Mode.TRAIN and seen["image"] is None and seen["verbose"] is True


def test_a_failed_prediction_exits_1_with_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    record_run_once(monkeypatch, {"status": "failed", "error": "cannot [x] it", "logs": "trace [/y]"})
    result = CliRunner().invoke(cli, ["predict"])
    assert result.exit_code == 1
    assert "error: the prediction failed: cannot [x] it" in result.stderr
    assert "trace [/y]" in result.stderr


def test_json_prints_the_whole_response(monkeypatch: pytest.MonkeyPatch) -> None:
    record_run_once(monkeypatch)
    result = CliRunner().invoke(cli, ["predict", "--json", "@-"], input="{}")
    assert result.exit_code == 0, result.output
    assert '"status": "succeeded"' in result.stdout


def test_serve_maps_onto_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(serve, "serve", lambda config, **kwargs: seen.update(kwargs, config=config))
    args = ["serve", "-p", "5001", "--host", "0.0.0.0", "--reload", "--upload-url", "http://u/", "-e", "A=b"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (seen["port"], seen["host"], seen["reload_on_edit"], seen["upload_url"]) == (
        5001,
        "0.0.0.0",
        True,
        "http://u/",
    )
    assert seen["config"].environment == {"A": "b"}


@pytest.mark.parametrize("port", ["0", "99999", "-1", "http"])
def test_invalid_ports_are_refused_before_anything_runs(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setattr(serve, "serve", lambda config, **kwargs: pytest.fail("serve() must not run"))
    result = CliRunner().invoke(cli, ["serve", "-p", port])
    assert result.exit_code == 2
    assert "--port" in result.output and port in result.output


def test_exec_maps_onto_run_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake(config: Any, command: list[str], **kwargs: Any) -> int:
        seen.update(kwargs, config=config, command=command)
        return 7

    monkeypatch.setattr(session, "run_in_environment", fake)
    result = CliRunner().invoke(
        cli, ["exec", "-p", "8888", "--runtime", "local", "python", "-c", "x", "--debug"]
    )
    assert result.exit_code == 7, result.output
    # Everything after CMD belongs to CMD, --debug included.
    assert seen["command"] == ["python", "-c", "x", "--debug"] and seen["ports"] == (8888,)
    assert seen["config"].runtime == "local"


def test_malformed_env_flag_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["predict", "img", "-e", "NOEQUALS"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_serve_queue_reaches_the_server_as_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(serve, "serve", lambda config, **kwargs: seen.update(config=config))
    url = "redis://127.0.0.1:6379/0?stream=jobs"
    result = CliRunner().invoke(cli, ["serve", "--queue", url, "-e", "A=b"])
    assert result.exit_code == 0, result.output
    assert seen["config"].environment == {"A": "b", "COGKIT_QUEUE_URL": url}


def test_serve_refuses_a_bad_queue_url_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serve, "serve", lambda config, **kwargs: pytest.fail("serve() must not run"))
    result = CliRunner().invoke(cli, ["serve", "--queue", "redis://:hunter2@h:6379/0"])
    assert result.exit_code == 2
    assert "stream" in result.output and "hunter2" not in result.output
