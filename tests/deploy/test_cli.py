"""`cogkit deploy`: flags map onto one library call, YAML goes to stdout, notes and errors to stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from cogkit.cli.main import cli
from cogkit.deploy import DeploySettings, Manifests, QueueSettings, SecretKey, Target, render_manifests
from tests.deploy.conftest import facts


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []

    def fake_deploy(image: str, settings: DeploySettings, **kwargs: Any) -> Manifests:
        made.append({"image": image, "settings": settings, **kwargs})
        return render_manifests(facts(), settings)

    monkeypatch.setattr("cogkit.deploy.deploy", fake_deploy)
    return made


def run(*args: str, cwd: Path | None = None) -> Any:
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli, ["deploy", *args])
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(cli, ["deploy", *args])


def test_flags_map_onto_settings(calls: list[dict[str, Any]], tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    result = run(
        "reg.example/acme/model:v1",
        "--target", "kserve", "--name", "sdxl", "-n", "ml", "--min-replicas", "1", "--max-replicas", "6",
        "--gpus", "2", "--cpu", "8", "--memory", "32Gi", "--image-pull-secret", "ghcr",
        "--image-pull-secret", "mirror", "--target-utilization", "0.5", "--concurrency", "4",
        "--max-setup-time", "3600", "--max-prediction-time", "900", "--no-driver-affinity",
        "--insecure", "--ca-cert", str(ca),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert call["image"] == "reg.example/acme/model:v1"
    assert call["insecure"] is True and call["ca_cert"] == ca
    assert call["settings"] == DeploySettings(
        target=Target.KSERVE,
        name="sdxl",
        namespace="ml",
        min_replicas=1,
        max_replicas=6,
        gpus=2,
        cpu="8",
        memory="32Gi",
        image_pull_secrets=("ghcr", "mirror"),
        target_utilization=0.5,
        concurrency=4,
        max_setup_s=3600,
        max_prediction_s=900,
        driver_affinity=False,
    )
    (service,) = yaml.safe_load_all(result.stdout)
    assert service["kind"] == "InferenceService"


def test_queue_flags(calls: list[dict[str, Any]]) -> None:
    url = "redis://worker@redis:6379/0?stream=jobs"
    result = run("img:v1", "--queue", url, "--queue-password-secret", "redis-auth:pw")
    assert result.exit_code == 0, result.output
    assert calls[0]["settings"].queue == QueueSettings.parse(
        url, password_secret=SecretKey("redis-auth", "pw")
    )
    kinds = [o["kind"] for o in yaml.safe_load_all(result.stdout)]
    assert kinds == ["Deployment", "Service", "PodDisruptionBudget", "TriggerAuthentication", "ScaledObject"]


def test_notes_go_to_stderr_and_yaml_alone_to_stdout(calls: list[dict[str, Any]]) -> None:
    result = run("img:v1", "--replicas", "1")
    assert result.exit_code == 0
    assert "--concurrency N" in result.stderr
    assert all(doc["apiVersion"] for doc in yaml.safe_load_all(result.stdout))


def test_output_folder(calls: list[dict[str, Any]], tmp_path: Path) -> None:
    result = run("img:v1", "--prometheus", "http://prom:9090", "-n", "ml", "-o", str(tmp_path / "k8s"))
    assert result.exit_code == 0, result.output
    printed = result.stdout.split()
    assert sorted(Path(p).name for p in printed) == sorted(
        [
            "deployment.yaml",
            "service.yaml",
            "poddisruptionbudget.yaml",
            "scaledobject.yaml",
            "kustomization.yaml",
        ]
    )
    assert f"kubectl apply -k {tmp_path / 'k8s'}" in result.stderr
    (tmp_path / "file").write_text("")
    refused = run("img:v1", "--replicas", "1", "-o", str(tmp_path / "file"))
    assert refused.exit_code == 2 and "is a file" in refused.stderr


def test_image_defaults_to_cog_yaml(calls: list[dict[str, Any]], tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text("")
    (tmp_path / "cog.yaml").write_text(
        'build:\n  python_version: "3.11"\npredict: "p.py:P"\nimage: reg.example/me/m\n'
    )
    result = run("--replicas", "1", "-f", str(tmp_path / "cog.yaml"))
    assert result.exit_code == 0, result.output
    assert calls[0]["image"] == "reg.example/me/m"
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\npredict: "p.py:P"\n')
    result = run("--replicas", "1", "-f", str(tmp_path / "cog.yaml"))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: no image to deploy")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["img:v1", "--queue-password-secret", "s"], "error: --queue-password-secret needs --queue"),
        (["img:v1", "--memory", "8GB"], "error: --memory '8GB' is not a Kubernetes quantity"),
        (["img:v1", "--min-replicas", "0", "--prometheus", "http://p:9090"], "error: --min-replicas 0 needs"),
        (
            ["img:v1", "--target", "knative", "--queue", "redis://r/0?stream=s"],
            "error: --queue cannot be used",
        ),
        (["img:v1", "--target", "aws"], "Invalid value for '--target'"),
    ],
)
def test_mistakes_are_one_line_with_a_hint(
    calls: list[dict[str, Any]], args: list[str], message: str
) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert not calls


def test_public_names_and_a_light_import() -> None:
    """`cogkit.deploy` exports what it lists, and merely loading the CLI loads none of it."""
    import cogkit.deploy

    for name in cogkit.deploy.__all__:
        assert getattr(cogkit.deploy, name) is not None
    probe = (
        "import sys, cogkit.cli.main; print(sorted(m for m in sys.modules if m.startswith('cogkit.deploy.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['cogkit.deploy.queue', 'cogkit.deploy.settings']"
