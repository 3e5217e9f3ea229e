"""The BuildKit backend against the real engine, with small hand-written Dockerfiles."""

from __future__ import annotations

import contextlib
import io
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from cogkit.errors import BuildError, UsageError
from cogkit.image import builder
from cogkit.image.engine import builder as pick_builder

pytestmark = pytest.mark.docker


@pytest.fixture
def tag(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"cogkit-test-builder-{uuid.uuid4().hex[:8]}"
    yield name
    with contextlib.suppress(docker.errors.ImageNotFound):
        docker_client.images.remove(name, force=True)


def write(tmp_path: Path, dockerfile: str) -> Path:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    return tmp_path / "Dockerfile"


def test_builds_with_buildkit_and_reports_steps(tmp_path: Path, base_image: str, tag: str) -> None:
    marker = uuid.uuid4().hex
    dockerfile = write(tmp_path, f"FROM {base_image}\nRUN echo {marker}-out\nRUN echo second\n")
    seen: list[str] = []
    result = builder.build(
        tmp_path,
        dockerfile=dockerfile,
        tag=tag,
        labels={"x.test": marker},
        on_line=lambda line, _step: seen.append(line),
    )
    assert pick_builder().kind == "buildkit"
    assert result.backend == "buildkit"
    assert result.image_id.startswith("sha256:")
    names = [s.name for s in result.steps]
    assert any(f"RUN echo {marker}-out" in n for n in names), names
    run_step = next(s for s in result.steps if f"RUN echo {marker}-out" in s.name)
    assert run_step.status == "done" and run_step.seconds is not None
    assert f"{marker}-out" in run_step.tail
    assert any(marker in line for line in seen)

    again = builder.build(tmp_path, dockerfile=dockerfile, tag=tag, labels={"x.test": marker})
    assert {s.status for s in again.steps if "RUN" in s.name} == {"cached"}
    assert again.image_id == result.image_id


def test_failure_names_step_and_last_lines(tmp_path: Path, base_image: str, tag: str) -> None:
    dockerfile = write(
        tmp_path,
        f"FROM {base_image}\nRUN echo fine\nRUN for i in 1 2 3 4 5; do echo line-$i; done; echo broken >&2; exit 3\n",
    )
    with pytest.raises(BuildError) as err:
        builder.build(tmp_path, dockerfile=dockerfile, tag=tag)
    text = str(err.value)
    assert "RUN for i in" in text.splitlines()[0]
    assert "exit code: 3" in text
    assert "line-5" in text and "broken" in text
    assert "#" not in text.splitlines()[0][:2]
    assert len(text.splitlines()) < 30


@pytest.mark.parametrize("how", ["src", "env"])
def test_secret_never_reaches_image_or_logs(
    tmp_path: Path,
    base_image: str,
    tag: str,
    docker_client: docker.DockerClient,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = f"sekrit-{uuid.uuid4().hex}"
    if how == "src":
        (tmp_path / "token.txt").write_text(value)
        secret = builder.Secret.parse(f"id=token,src={tmp_path / 'token.txt'}")
    else:
        monkeypatch.setenv("COGKIT_TEST_TOKEN", value)
        secret = builder.Secret.parse("id=token,env=COGKIT_TEST_TOKEN")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    dockerfile = write(
        ctx,
        f"FROM {base_image}\n"
        # The value is unique per test so that BuildKit cannot answer from cache (secrets are not cache keys).
        f"RUN --mount=type=secret,id=token echo {uuid.uuid4().hex} && cat /run/secrets/token "
        "&& wc -c < /run/secrets/token > /token-length\n",
    )
    seen: list[str] = []
    result = builder.build(
        ctx, dockerfile=dockerfile, tag=tag, secrets=[secret], on_line=lambda line, _step: seen.append(line)
    )
    assert not any(value in line for line in seen)
    assert any("***" in line for line in seen)
    image = docker_client.images.get(result.image_id)
    assert value not in str(image.attrs) and value not in str(image.history())
    blob = b"".join(image.save())
    assert value.encode() not in blob
    with tarfile.open(fileobj=io.BytesIO(blob)) as saved:
        for member in saved.getmembers():
            if member.name.endswith("layer.tar"):
                layer = saved.extractfile(member)
                assert layer is not None
                with tarfile.open(fileobj=layer) as inner:
                    names = inner.getnames()
                    assert "run/secrets/token" not in names
                    for entry in inner.getmembers():
                        if entry.isfile():
                            data = inner.extractfile(entry)
                            assert data is not None and value.encode() not in data.read()


def test_a_multi_line_secret_is_redacted_line_by_line(tmp_path: Path, base_image: str, tag: str) -> None:
    """A PEM key printed by a failing step: none of its lines reaches the live output or the error."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    assert len(body) >= 3
    (tmp_path / "key.pem").write_text(pem)
    secret = builder.Secret.parse(f"id=key,src={tmp_path / 'key.pem'}")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    dockerfile = write(
        ctx,
        f"FROM {base_image}\n"
        f"RUN --mount=type=secret,id=key echo {uuid.uuid4().hex} && cat /run/secrets/key && exit 7\n",
    )
    seen: list[str] = []
    with pytest.raises(BuildError) as failed:
        builder.build(
            ctx,
            dockerfile=dockerfile,
            tag=tag,
            secrets=[secret],
            on_line=lambda line, _step: seen.append(line),
        )
    shown = "\n".join(seen) + "\n" + str(failed.value)
    assert "exit code: 7" in str(failed.value)
    assert [line for line in body if line in shown] == []
    assert shown.count("***") >= len(body)


def test_secret_flag_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="id=NAME,src=FILE"):
        builder.Secret.parse("token")
    with pytest.raises(UsageError, match="does not exist"):
        builder.Secret.parse(f"id=x,src={tmp_path / 'missing'}")
    with pytest.raises(UsageError, match="NOPE_NOT_SET"):
        builder.Secret.parse("id=x,env=NOPE_NOT_SET")
