"""Stage a Docker build context: the rendered Dockerfile, the project, weights and cogkit itself.

Layout of the context directory (the Dockerfile template copies from these names):

    Dockerfile
    src/…                 the project, filtered by .dockerignore, without weights or local wheels
    weights/…             project files of WEIGHTS_MIN_BYTES or more, each on its own layer
    deps/requirements.txt the plan's requirement lines, with the local wheels/dirs they name
    cogkit/lib/…          this cogkit's package (+ a minimal dist-info)
    cogkit/server-requirements.txt, cogkit/ca.crt

It lives in `<project>/.cogkit/build/context` and is updated in place: files are hard links
(or, across filesystems, copies kept while size and mtime match), so restaging after a code
edit touches only what changed and a multi-GB weight file is never copied twice.
"""

from __future__ import annotations

import fcntl
import os
import posixpath
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cogkit.dockerfile import render
from cogkit.dockerfile.render import (
    CONTEXT_CA_CERT,
    CONTEXT_CODE,
    CONTEXT_DEPS,
    CONTEXT_REQUIREMENTS,
    CONTEXT_RUNTIME_LIB,
    CONTEXT_SERVER_REQUIREMENTS,
    CONTEXT_WEIGHTS,
)
from cogkit.errors import BuildError, UsageError
from cogkit.image import runtime_payload
from cogkit.image.ignore import Entry, project_entries
from cogkit.image.sync import sync_tree
from cogkit.plan.models import BuildPlan

# Files this large go to their own layer before the code (10 MiB, as documented for `cogkit build`).
WEIGHTS_MIN_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class BuildContext:
    """A staged context: run `docker build -f dockerfile dir`."""

    dir: Path
    dockerfile: Path
    weights: tuple[str, ...]
    ca_cert: bool
    buildkit: bool


@dataclass(frozen=True)
class ProjectFiles:
    """The project as the image sees it, split into code and weights."""

    code: tuple[Entry, ...]
    weights: tuple[str, ...]


def scan(plan: BuildPlan, project_dir: Path) -> ProjectFiles:
    """Split the project's included files into weights (large) and code (the rest)."""
    local_files = {posixpath.normpath(path) for path in plan.local_requirement_files}
    code: list[Entry] = []
    weights: list[str] = []
    for entry in project_entries(project_dir):
        if entry.kind == "file" and entry.path in local_files:
            continue  # installed from deps/; a second copy in /src would double the image
        if entry.kind == "file" and entry.size >= WEIGHTS_MIN_BYTES:
            weights.append(entry.path)
        else:
            code.append(entry)
    return ProjectFiles(code=tuple(code), weights=tuple(weights))


def _build_root(project_dir: Path) -> Path:
    root = project_dir / ".cogkit" / "build"
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / ".lock").touch()
        ignore = project_dir / ".cogkit" / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# cogkit's cache: never commit it\n*\n")
        return root
    except OSError:
        # A read-only project (a mounted checkout): stage in a fresh temp dir, uncached.
        return Path(tempfile.mkdtemp(prefix="cogkit-build-"))


def _write_if_changed(path: Path, text: str) -> Path:
    """Write atomically, and only on change, so the mtime (and the staged link) stays put."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return path
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return path


def _local_requirement_entries(plan: BuildPlan, project_dir: Path) -> dict[str, Path | None]:
    entries: dict[str, Path | None] = {}
    for relative in plan.local_requirement_files:
        normal = posixpath.normpath(relative)
        if normal.startswith("../") or normal == ".." or posixpath.isabs(normal):
            raise BuildError(
                f"requirements name the local path {relative!r}, outside the project {project_dir}",
                hint="move the wheel into the project folder; Docker can only see files inside it",
            )
        source = project_dir / normal
        if source.is_file():
            entries[f"{CONTEXT_DEPS}/{normal}"] = source
        elif source.is_dir():
            for path in sorted(source.rglob("*")):
                if "__pycache__" in path.parts:
                    continue
                rel = f"{CONTEXT_DEPS}/{path.relative_to(project_dir).as_posix()}"
                entries[rel] = None if path.is_dir() and not path.is_symlink() else path
        else:
            raise BuildError(
                f"requirements name the local path {relative!r}, which is not in {project_dir}",
                hint="build the wheel first, or fix the path in your requirements file",
            )
    return entries


def _ca_cert_text(ca_cert: Path) -> str:
    try:
        text = ca_cert.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--ca-cert {ca_cert}: cannot read it ({exc})") from exc
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise UsageError(
            f"--ca-cert {ca_cert}: not a PEM certificate",
            hint="pass a PEM file (the text starts with -----BEGIN CERTIFICATE-----)",
        )
    return text if text.endswith("\n") else text + "\n"


def stage(
    plan: BuildPlan, project_dir: Path, *, ca_cert: Path | None = None, buildkit: bool = True
) -> BuildContext:
    """Write (or refresh) the build context for `plan` and return where it is."""
    project_dir = project_dir.resolve()
    root = _build_root(project_dir)
    with (root / ".lock").open("a") as lock:
        # Two builds of one project at once: stage one after the other, never interleaved.
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _stage_locked(plan, project_dir, root, ca_cert=ca_cert, buildkit=buildkit)


def _stage_locked(
    plan: BuildPlan, project_dir: Path, root: Path, *, ca_cert: Path | None, buildkit: bool
) -> BuildContext:
    generated = root / "generated"
    files = scan(plan, project_dir)

    entries: dict[str, Path | None] = {}
    for entry in files.code:
        entries[f"{CONTEXT_CODE}/{entry.path}"] = None if entry.kind == "dir" else project_dir / entry.path
    entries[CONTEXT_CODE] = None
    for path in files.weights:
        entries[f"{CONTEXT_WEIGHTS}/{path}"] = project_dir / path
    entries.update(_local_requirement_entries(plan, project_dir))
    requirements = "".join(f"{line}\n" for line in plan.requirements)
    entries[CONTEXT_REQUIREMENTS] = _write_if_changed(generated / "requirements.txt", requirements)
    for relative, source in runtime_payload.package_files().items():
        entries[f"{CONTEXT_RUNTIME_LIB}/{relative}"] = source
    for relative, text in runtime_payload.dist_info().items():
        entries[f"{CONTEXT_RUNTIME_LIB}/{relative}"] = _write_if_changed(
            generated / "dist-info" / relative, text
        )
    server = "".join(f"{line}\n" for line in runtime_payload.server_requirements())
    entries[CONTEXT_SERVER_REQUIREMENTS] = _write_if_changed(generated / "server-requirements.txt", server)
    if ca_cert is not None:
        entries[CONTEXT_CA_CERT] = _write_if_changed(generated / "ca.crt", _ca_cert_text(ca_cert))

    dockerfile_text = render(plan, weights=files.weights, buildkit=buildkit, ca_cert=ca_cert is not None)
    entries["Dockerfile"] = _write_if_changed(generated / "Dockerfile", dockerfile_text)

    context_dir = root / "context"
    sync_tree(entries, context_dir)
    return BuildContext(
        dir=context_dir,
        dockerfile=context_dir / "Dockerfile",
        weights=files.weights,
        ca_cert=ca_cert is not None,
        buildkit=buildkit,
    )
