"""`cogkit predict IMAGE` against real images: every input kind and output kind, failures, cleanup."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from cogkit.image import labels
from tests.e2e.conftest import PROJECTS, Build, cogkit

pytestmark = pytest.mark.docker
KINDS = PROJECTS / "kinds"


def leftover_containers(client: docker.DockerClient, image: str) -> list[str]:
    return [c.name for c in client.containers.list(all=True, filters={"ancestor": image})]


def test_cog_style_project_runs_unmodified(
    build: Build, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    built = build(PROJECTS / "cogstyle")
    result = cogkit("predict", built.tag, "-i", "name=cogkit", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello cogkit (six 1.17.0)\n"

    found = docker_client.images.get(built.tag).labels
    assert json.loads(found[labels.CONFIG])["predict"] == "predict.py:Predictor"
    schema = json.loads(found[labels.OPENAPI_SCHEMA])
    assert schema["components"]["schemas"]["Input"]["properties"]["name"]["default"] == "world"
    assert json.loads(found[labels.PLAN])["python_version"] == "3.11"
    assert found[f"{labels.OCI}.created"].endswith("Z")
    head = subprocess.run(
        ["git", "-C", str(PROJECTS / "cogstyle"), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if head.returncode == 0:  # a git checkout (git may refuse one owned by another user)
        assert found[f"{labels.OCI}.revision"] == head.stdout.strip() and found[f"{labels.OCI}.version"]
    else:
        assert f"{labels.OCI}.revision" not in found
    assert labels.MIN_DRIVER not in found  # a CPU image
    assert leftover_containers(docker_client, built.tag) == []


def test_every_input_kind(build: Build, tmp_path: Path) -> None:
    built = build(KINDS)
    (tmp_path / "note.txt").write_text("file contents")
    result = cogkit(
        "predict", built.tag,
        "-i", "text=42", "-i", "count=3", "-i", "ratio=0.25", "-i", "flag=yes", "-i", "color=green",
        "-i", "tags=a", "-i", "tags=b", "-i", "doc=@note.txt", "-i", "token=s3cret",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "text": "42",
        "count": 3,
        "ratio": 0.25,
        "flag": True,
        "color": "green",
        "tags": ["a", "b"],
        "doc": "file contents",
        "token_length": 6,
    }
    assert "s3cret" not in result.stderr


def test_invalid_inputs_fail_before_anything_starts(build: Build, tmp_path: Path) -> None:
    built = build(KINDS)
    result = cogkit("predict", built.tag, "-i", "text=x", "-i", "count=99", "-i", "color=blue", cwd=tmp_path)
    assert result.returncode == 2
    assert "count" in result.stderr and "color" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = cogkit("predict", built.tag, "-i", "txt=x", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown input 'txt'" in unknown.stderr


def test_json_input_prints_the_whole_response(build: Build, tmp_path: Path) -> None:
    built = build(KINDS)
    result = cogkit("predict", built.tag, "--json", "-", cwd=tmp_path, stdin='{"input": {"text": "hi"}}')
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["status"] == "succeeded"
    assert response["output"]["text"] == "hi" and response["output"]["count"] == 1


def test_file_outputs(build: Build, tmp_path: Path) -> None:
    one = build(KINDS, "cog-file.yaml")
    assert cogkit("predict", one.tag, "-i", "text=abc", cwd=tmp_path).returncode == 0
    assert (tmp_path / "output.txt").read_text() == "ABC"
    assert cogkit("predict", one.tag, "-i", "text=xyz", "-o", "named.txt", cwd=tmp_path).returncode == 0
    assert (tmp_path / "named.txt").read_text() == "XYZ"

    many = build(KINDS, "cog-files.yaml")
    result = cogkit("predict", many.tag, "-i", "n=3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [(tmp_path / f"output.{i}.txt").read_text() for i in range(3)] == ["part 0", "part 1", "part 2"]


def test_iterator_output_streams(build: Build, tmp_path: Path) -> None:
    built = build(KINDS, "cog-stream.yaml")
    result = cogkit("predict", built.tag, "-i", "n=3", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["chunk-0", "chunk-1", "chunk-2"]


def test_failed_prediction_exits_1_with_its_error(
    build: Build, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    built = build(KINDS, "cog-fail.yaml")
    result = cogkit("predict", built.tag, "-i", "text=boom", cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot handle boom" in result.stderr and "about to fail" in result.stderr
    assert leftover_containers(docker_client, built.tag) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_removes_the_container(
    build: Build, tmp_path: Path, docker_client: docker.DockerClient, signum: int
) -> None:
    built = build(KINDS, "cog-stream.yaml")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cogkit", "predict", built.tag, "-i", "n=100000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the prediction streams
        assert first.strip() == "chunk-0"
        assert leftover_containers(docker_client, built.tag) != []
        proc.send_signal(signum)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    deadline = time.monotonic() + 30  # the engine may take a moment to finish the removal
    while leftover_containers(docker_client, built.tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftover_containers(docker_client, built.tag) == []


def test_system_packages_and_build_run(build: Build, tmp_path: Path) -> None:
    built = build(PROJECTS / "sysdeps")
    result = cogkit("predict", built.tag, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from-jq built-by-run"


def test_image_without_schema_label_uses_its_servers_schema(
    build: Build, tmp_path: Path, docker_client: docker.DockerClient
) -> None:
    """An image built by another tool (no run.cog.openapi_schema): inputs are typed by /openapi.json."""
    built = build(KINDS)
    tag = "cogkit-e2e-tmp-unlabelled"
    dockerfile = io.BytesIO(f'FROM {built.image_id}\nLABEL {labels.OPENAPI_SCHEMA}=""\n'.encode())
    for _ in docker_client.api.build(fileobj=dockerfile, tag=tag, rm=True, decode=True):
        pass
    try:
        result = cogkit(
            "predict", tag, "-i", "text=t", "-i", "count=4", "-i", "tags=a", "-i", "tags=b", cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        out = json.loads(result.stdout)
        assert (out["count"], out["tags"]) == (4, ["a", "b"])
        invalid = cogkit("predict", tag, "-i", "text=t", "-i", "count=99", cwd=tmp_path)
        assert invalid.returncode == 2 and "count" in invalid.stderr
        assert leftover_containers(docker_client, tag) == []
    finally:
        docker_client.images.remove(tag, force=True)
