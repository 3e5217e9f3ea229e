"""Picking a builder, the legacy fallback, labels, and GPU decisions, against the real engine."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import docker
import pytest

from cogkit.errors import BuildError, EngineError
from cogkit.image import builder, engine, labels
from cogkit.plan.models import BuildPlan
from cogkit.runtime import gpu


@pytest.fixture
def tag(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"cogkit-test-engine-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(name, force=True)


@pytest.mark.docker
def test_buildkit_is_preferred_when_a_client_can_drive_it() -> None:
    picked = engine.builder()
    assert picked.kind == "buildkit" and picked.notice is None
    assert engine.available()


@pytest.mark.docker
def test_legacy_builder_fallback_builds_and_parses_steps(
    tmp_path: Path, base_image: str, tag: str, docker_client: docker.DockerClient
) -> None:
    legacy = engine.BuilderCLI(path=engine.builder().path, kind="legacy", notice="no BuildKit")
    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo legacy-{tag}\n")
    result = builder.build(tmp_path, dockerfile=tmp_path / "Dockerfile", tag=tag, cli=legacy)
    assert result.backend == "legacy" and result.image_id.startswith("sha256:")
    run = [s for s in result.steps if "RUN echo" in s.name]
    assert run and f"legacy-{tag}" in run[0].tail

    (tmp_path / "Dockerfile").write_text(f"FROM {base_image}\nRUN echo before-{tag} && exit 4\n")
    with pytest.raises(BuildError, match="RUN echo before") as err:
        builder.build(tmp_path, dockerfile=tmp_path / "Dockerfile", tag=tag, cli=legacy)
    assert f"before-{tag}" in str(err.value)
    left = [
        c.name
        for c in docker_client.containers.list(all=True)
        if f"before-{tag}" in str(c.attrs["Config"]["Cmd"])
    ]
    assert left == [], "the failed step's container was left behind"

    secret = tmp_path / "s"
    secret.write_text("x")
    with pytest.raises(BuildError, match="--secret needs BuildKit"):
        builder.build(
            tmp_path,
            dockerfile=tmp_path / "Dockerfile",
            tag=tag,
            cli=legacy,
            secrets=[builder.Secret(id="s", src=str(secret))],
        )


def test_missing_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/cogkit-test.sock")
    engine.client.cache_clear()
    try:
        with pytest.raises(EngineError, match="no Docker engine answers") as err:
            engine.client()
        assert "--runtime local" in str(err.value.hint)
        assert not engine.available()
    finally:
        engine.client.cache_clear()


def plan(**changes: object) -> BuildPlan:
    fields: dict[str, object] = dict(
        python_version="3.11", gpu=False, cuda=None, cudnn=None, min_nvidia_driver=None,
        base_image="python:3.11-slim", base_kind="python-slim", base_has_python=True, index_url=None,
        extra_index_urls=(), find_links=(), requirements=(), local_requirement_files=(), system_packages=(),
        run_steps=(), environment=(), predictor="predict.py:Predictor", trainer=None, concurrency_max=1, image=None,
        cog_config={"build": {"python_version": "3.11"}, "predict": "predict.py:Predictor"},
    )  # fmt: skip
    fields.update(changes)
    return BuildPlan(**fields)  # type: ignore[arg-type]


def test_labels_carry_config_plan_driver_and_git(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    (tmp_path / "f").write_text("x")
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "add", "f"], check=True, timeout=30)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True, timeout=30)
    subprocess.run([*git, "tag", "v1.2.3"], check=True, timeout=30)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    found = labels.build_labels(
        plan(gpu=True, cuda="12.1", min_nvidia_driver="530.30.02"), tmp_path, created=when
    )
    assert json.loads(found[labels.CONFIG])["predict"] == "predict.py:Predictor"
    assert json.loads(found[labels.PLAN])["cuda"] == "12.1"
    assert found[labels.MIN_DRIVER] == "530.30.02"
    assert found[f"{labels.OCI}.created"] == "2026-01-02T03:04:05Z"
    assert found[f"{labels.OCI}.version"] == "v1.2.3"
    assert len(found[f"{labels.OCI}.revision"]) == 40

    plain = labels.build_labels(plan(), tmp_path / "f")  # not a directory, so not a git checkout
    assert f"{labels.OCI}.revision" not in plain and labels.MIN_DRIVER not in plain
    assert f"{labels.OCI}.created" not in plain  # no date that depends only on the inputs: none at all


def test_created_is_the_commit_time_or_source_date_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=30)
    (tmp_path / "f").write_text("x")
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@e", "-c", "user.name=t"]
    subprocess.run([*git, "add", "f"], check=True, timeout=30)
    env = {**os.environ, "GIT_COMMITTER_DATE": "2025-03-04T05:06:07Z"}
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True, timeout=30, env=env)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert labels.build_labels(plan(), tmp_path)[f"{labels.OCI}.created"] == "2025-03-04T05:06:07Z"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert labels.build_labels(plan(), tmp_path)[f"{labels.OCI}.created"] == "1970-01-01T00:00:00Z"


@pytest.mark.docker
def test_gpu_images_fall_back_to_cpu_without_an_nvidia_runtime() -> None:
    if gpu.nvidia_runtime_present():
        pytest.skip("this machine has an NVIDIA runtime; the CPU fallback cannot be observed here")
    warnings: list[str] = []
    assert gpu.resolve_gpus(None, wants_gpu=True, min_driver="530.30.02", warn=warnings.append) is None
    assert warnings and "running on CPU" in warnings[0]
    assert gpu.resolve_gpus(None, wants_gpu=False, min_driver=None, warn=warnings.append) is None


def test_old_host_driver_is_explained_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # No GPU on CI machines: the driver query is the one thing we must fake.
    monkeypatch.setattr(gpu, "nvidia_runtime_present", lambda: True)
    monkeypatch.setattr(gpu, "host_driver", lambda: "470.82.01")
    with pytest.raises(EngineError, match=re.escape("470.82.01 is older than 530.30.02")) as err:
        gpu.resolve_gpus(None, wants_gpu=True, min_driver="530.30.02", warn=print)
    assert "\n" not in err.value.message
    monkeypatch.setattr(gpu, "host_driver", lambda: "550.54.14")
    assert gpu.resolve_gpus(None, wants_gpu=True, min_driver="530.30.02", warn=print) == "all"
    assert gpu.resolve_gpus("device=1", wants_gpu=True, min_driver="530.30.02", warn=print) == "device=1"
    assert gpu.resolve_gpus("none", wants_gpu=True, min_driver=None, warn=print) is None
