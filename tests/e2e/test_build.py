"""`cogkit build` on the real engine: secrets never leak, failures are short and clear, edits rebuild little."""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from cogkit.image.build import build_project
from tests.e2e.conftest import EXAMPLES, PROJECTS, cogkit, copy_project

pytestmark = pytest.mark.docker


@pytest.fixture
def tag(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"cogkit-e2e-tmp-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(name, force=True)


def saved_files(image: docker.models.images.Image) -> Iterator[tuple[str, bytes]]:
    """Every file of every layer of a `docker save`, and the save's own metadata files."""
    with tarfile.open(fileobj=io.BytesIO(b"".join(image.save()))) as saved:
        for member in saved.getmembers():
            if not member.isfile():
                continue
            data = saved.extractfile(member)
            assert data is not None
            blob = data.read()
            yield member.name, blob
            if member.name.endswith("layer.tar"):
                with tarfile.open(fileobj=io.BytesIO(blob)) as layer:
                    for entry in layer.getmembers():
                        if entry.isfile():
                            inner = layer.extractfile(entry)
                            assert inner is not None
                            yield f"{member.name}:{entry.name}", inner.read()


def test_build_secret_is_used_and_never_stored(
    tmp_path: Path, base_image: str, host_ca_cert: Path | None, docker_client: docker.DockerClient, tag: str
) -> None:
    value = f"cogkit-secret-{uuid.uuid4().hex}"
    (tmp_path / "token").write_text(value)
    project = PROJECTS / "secret"
    args = ["build", "-t", tag, "--progress", "plain", "--secret", f"id=token,src={tmp_path / 'token'}"]
    result = cogkit(*args, cwd=project, ca_cert=host_ca_cert)
    assert result.returncode == 0, result.stderr
    assert value not in result.stdout + result.stderr

    predicted = cogkit("predict", tag, cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.strip() == str(len(value))

    image = docker_client.images.get(tag)
    assert value not in str(image.attrs) and value not in str(image.history())
    leaks = [name for name, blob in saved_files(image) if value.encode() in blob]
    assert leaks == []


def test_failing_build_run_shows_step_and_last_lines(
    tmp_path: Path, base_image: str, host_ca_cert: Path | None
) -> None:
    result = cogkit("build", cwd=PROJECTS / "broken-run", ca_cert=host_ca_cert)
    assert result.returncode == 1
    err = result.stderr
    assert "echo step-output-1" in err and "exit code: 7" in err
    assert "step-output-2" in err and "giving-up" in err
    assert "build.run" in err  # the hint points at the cog.yaml key
    assert "Traceback" not in err and "#1 [internal]" not in err
    assert len(err.splitlines()) < 60


def test_failing_requirement_names_the_package(
    tmp_path: Path, base_image: str, host_ca_cert: Path | None
) -> None:
    result = cogkit("build", cwd=PROJECTS / "broken-req", ca_cert=host_ca_cert)
    assert result.returncode == 1
    assert "cogkit-e2e-no-such-package-zz" in result.stderr
    assert "requirements" in result.stderr
    assert "Traceback" not in result.stderr


def test_predictor_that_cannot_load_fails_the_build_clearly(
    tmp_path: Path, base_image: str, host_ca_cert: Path | None
) -> None:
    result = cogkit("build", cwd=PROJECTS / "broken-predictor", ca_cert=host_ca_cert)
    assert result.returncode == 1
    assert "fails when it is imported" in result.stderr
    assert "Traceback (most recent call last)" not in result.stderr.splitlines()[0]


def test_code_edit_rebuilds_only_the_last_layer(
    tmp_path: Path, base_image: str, host_ca_cert: Path | None, docker_client: docker.DockerClient, tag: str
) -> None:
    project = copy_project(PROJECTS / "cogstyle", tmp_path / "cogstyle")
    first = build_project(project / "cog.yaml", tag=tag, ca_cert=host_ca_cert)
    before = docker_client.images.get(first.image_id).attrs["RootFS"]["Layers"]

    with (project / "predict.py").open("a") as f:
        f.write("\n# a one-line edit\n")
    second = build_project(project / "cog.yaml", tag=tag, ca_cert=host_ca_cert)
    after = docker_client.images.get(second.image_id).attrs["RootFS"]["Layers"]

    assert len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert changed == [len(after) - 1], "only the code layer (the last one) may change"
    installs = [s for s in second.steps if "requirements" in s.name or "pip install" in s.name]
    assert installs and all(s.status == "cached" for s in installs), [(s.name, s.status) for s in installs]
    assert cogkit("predict", tag, "-i", "name=edit", cwd=tmp_path).stdout.startswith("hello edit")


def test_weights_get_their_own_layer_before_the_code(
    tmp_path: Path, base_image: str, host_ca_cert: Path | None, docker_client: docker.DockerClient, tag: str
) -> None:
    project = copy_project(EXAMPLES / "hello-world", tmp_path / "weighted")
    weights = os.urandom(11 * 1024 * 1024)  # above the documented 10 MB threshold
    (project / "model.bin").write_bytes(weights)
    first = build_project(project / "cog.yaml", tag=tag, ca_cert=host_ca_cert)
    history = docker_client.images.get(first.image_id).history()
    weight_layers = [h for h in history if "model.bin" in h.get("CreatedBy", "")]
    assert len(weight_layers) == 1 and weight_layers[0]["Size"] >= len(weights)
    before = docker_client.images.get(first.image_id).attrs["RootFS"]["Layers"]

    (project / "predict.py").write_text((project / "predict.py").read_text() + "\n# edit\n")
    second = build_project(project / "cog.yaml", tag=tag, ca_cert=host_ca_cert)
    after = docker_client.images.get(second.image_id).attrs["RootFS"]["Layers"]
    assert after[:-1] == before[:-1] and after[-1] != before[-1]
