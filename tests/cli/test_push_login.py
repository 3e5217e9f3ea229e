"""`cogkit push` and `cogkit login`: flags map onto one library call; errors are one line."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cogkit.cli.main import cli
from cogkit.registry import PushResult
from cogkit.registry.credentials import config_path
from cogkit.registry.manifest import ManifestFormat
from tests.registry.conftest import PASSWORD, USER, Endpoint

DIGEST = f"sha256:{'c' * 64}"


def write_project(folder: Path, extra: str) -> None:
    (folder / "predict.py").write_text("")
    (folder / "cog.yaml").write_text(
        'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n' + extra
    )


@pytest.fixture
def pushed(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    calls: list[dict] = []

    def fake_push(target: str, **kwargs: object) -> PushResult:
        calls.append({"target": target, **kwargs})
        return PushResult(f"{target}@{DIGEST}", DIGEST, 1, 0, 2, 1234, 0.5)

    monkeypatch.setattr("cogkit.registry.push_image", fake_push)
    return calls


def test_push_maps_flags(pushed: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    result = CliRunner().invoke(
        cli, ["push", "--no-build", "--oci", "--insecure", "--ca-cert", str(ca), "-j", "2", "-q", "r.io/m:v1"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"r.io/m:v1@{DIGEST}"
    call = pushed[0]
    assert call["target"] == "r.io/m:v1" and call["manifest_format"] is ManifestFormat.OCI
    assert (call["insecure"], call["ca_cert"], call["jobs"], call["show_progress"]) == (True, ca, 2, False)


def test_push_target_from_cog_yaml(
    pushed: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, "image: r.io/me/model\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["push", "--no-build"])
    assert result.exit_code == 0, result.output
    assert pushed[0]["target"] == "r.io/me/model"


def test_push_without_a_target_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["push"])
    assert result.exit_code == 2
    assert "no image to push" in result.output and "Traceback" not in result.output


def test_push_cog_yaml_without_image_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_project(tmp_path, "")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["push", "--no-build"])
    assert result.exit_code == 2
    assert "has no `image:`" in result.output


@pytest.mark.registry
def test_login_stores_and_never_echoes(tls_registry: Endpoint, docker_config: Path) -> None:
    args = [
        "login",
        tls_registry.host,
        "-u",
        USER,
        "--password-stdin",
        "--ca-cert",
        str(tls_registry.ca_cert),
    ]
    result = CliRunner().invoke(cli, args, input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Login Succeeded" in result.output and PASSWORD not in result.output
    assert tls_registry.host in json.loads(config_path().read_text())["auths"]


@pytest.mark.registry
def test_login_wrong_password(tls_registry: Endpoint, docker_config: Path) -> None:
    args = [
        "login",
        tls_registry.host,
        "-u",
        USER,
        "--password-stdin",
        "--ca-cert",
        str(tls_registry.ca_cert),
    ]
    result = CliRunner().invoke(cli, args, input="nope-not-it\n")
    assert result.exit_code == 1
    assert "error: unauthorized" in result.output and "nope-not-it" not in result.output
    assert "Traceback" not in result.output
    assert not config_path().exists()


def test_public_surface_is_complete() -> None:
    import cogkit.registry as registry

    public = {name for name in dir(registry) if not name.startswith("_")}
    public = {name for name in public if not inspect.ismodule(getattr(registry, name))}
    assert set(registry.__all__) == public


def test_push_via_docker_delegates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []

    def fake_engine_push(target: str) -> PushResult:
        calls.append(target)
        return PushResult(f"{target}@{DIGEST}", DIGEST, 0, 0, 0, 0, 0.1)

    monkeypatch.setattr("cogkit.registry.push_with_engine", fake_engine_push)
    result = CliRunner().invoke(cli, ["push", "--no-build", "--via", "docker", "r.io/m:v1"])
    assert result.exit_code == 0, result.output
    assert calls == ["r.io/m:v1"] and result.stdout.strip() == f"r.io/m:v1@{DIGEST}"
