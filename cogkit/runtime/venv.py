"""The local runtime's project environment: a uv venv under `<project>/.cogkit/venv`.

It is built from the plan's requirements and reused until they change: a hash of everything that
affects the install (interpreter, requirement lines, indexes, local wheel files) is stored beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cogkit.errors import BuildError
from cogkit.plan.models import BuildPlan
from cogkit.runtime.backend import Notice, Progress, Report

STAMP = ".cogkit-hash"
INSTALL_TIMEOUT_S = 3600
PROGRESS_EVERY_S = 1.0
Warn = Callable[[str], None]


@dataclass(frozen=True)
class ProjectVenv:
    path: Path
    python: Path
    reused: bool


def uv_binary() -> str:
    """uv from cogkit's own environment (it is a dependency), else PATH."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if not found:
            raise BuildError(
                "uv is not installed",
                hint="install uv (`pip install uv`): the local runtime builds project venvs with it",
            ) from None
        return found


def _version_of(python: str) -> str | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print('.'.join(map(str, sys.version_info[:3])))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_python(version: str, *, warn: Warn) -> tuple[str, str]:
    """An interpreter whose version starts with `version` ("3.11" or "3.11.9"), else ours with a warning."""
    minor = ".".join(version.split(".")[:2])
    candidates = [shutil.which(f"python{minor}"), f"/usr/bin/python{minor}", f"/usr/local/bin/python{minor}"]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += [str(p / "bin" / "python") for p in sorted(pyenv.glob(f"{minor}*"), reverse=True)]
    for candidate in filter(None, candidates):
        found = _version_of(candidate)
        if found and (found == version or (found.startswith(minor) and version == minor)):
            return candidate, found
    ours = ".".join(map(str, sys.version_info[:3]))
    warn(f"python_version is {version} but no such interpreter is installed here; using Python {ours}")
    return sys.executable, ours


def requirements_text(plan: BuildPlan) -> str:
    """The plan's requirements as one file, index options first (pip and uv read both)."""
    lines: list[str] = []
    if plan.index_url:
        lines.append(f"--index-url {plan.index_url}")
    lines += [f"--extra-index-url {url}" for url in plan.extra_index_urls]
    lines += [f"--find-links {link}" for link in plan.find_links]
    lines += list(plan.requirements)
    return "\n".join(lines) + "\n"


def _fingerprint(plan: BuildPlan, project_dir: Path, python_version: str) -> str:
    local_files = []
    for rel in plan.local_requirement_files:
        path = project_dir / rel
        stat = path.stat() if path.exists() else None
        local_files.append([rel, stat.st_size if stat else None, stat.st_mtime_ns if stat else None])
    key = {"python": python_version, "requirements": requirements_text(plan), "local": local_files}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _venv_version(venv: Path) -> str | None:
    """The interpreter version an existing venv was made with, from its pyvenv.cfg (no subprocess)."""
    try:
        text = (venv / "pyvenv.cfg").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version_info", "version"):
            return value.strip()
    return None


def ensure_venv(plan: BuildPlan, project_dir: Path, *, report: Report) -> ProjectVenv:
    """Create or reuse `<project>/.cogkit/venv` for this plan, reporting uv's progress as it goes."""
    root = project_dir / ".cogkit"
    venv = root / "venv"
    stamp = venv / STAMP
    venv_python = venv / "bin" / "python"
    existing = _venv_version(venv)
    minor = ".".join(plan.python_version.split(".")[:2])
    if existing and venv_python.exists() and stamp.exists():
        # The fast path: a venv whose interpreter still matches python_version and whose
        # requirements are unchanged is reused without looking for interpreters again.
        matches = existing == plan.python_version or existing.startswith(minor + ".")
        if matches and stamp.read_text().strip() == _fingerprint(plan, project_dir, existing):
            return ProjectVenv(path=venv, python=venv_python, reused=True)
    python, version = find_python(plan.python_version, warn=lambda text: report(Notice(text, warning=True)))
    digest = _fingerprint(plan, project_dir, version)
    if venv_python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return ProjectVenv(path=venv, python=venv_python, reused=True)

    report(Notice(f"creating the project environment in {venv} (Python {version})"))
    uv = uv_binary()
    root.mkdir(exist_ok=True)
    (root / ".gitignore").write_text("*\n")
    _uv(
        [uv, "venv", "--quiet", "--clear", "--python", python, str(venv)],
        cwd=project_dir,
        step="creating the venv",
        report=report,
    )
    if plan.requirements:
        requirements = root / "requirements.txt"
        requirements.write_text(requirements_text(plan))
        _uv(
            [uv, "pip", "install", "-v", "--python", str(venv_python), "-r", str(requirements)],
            cwd=project_dir,
            step=f"installing {len(plan.requirements)} requirement(s) with uv",
            report=report,
        )
    stamp.write_text(digest + "\n")
    return ProjectVenv(path=venv, python=venv_python, reused=False)


def _uv(args: list[str], *, cwd: Path, step: str, report: Report) -> None:
    """Run uv, turning its output into Progress (about once a second) and its failure into a BuildError."""
    started = time.monotonic()
    process = subprocess.Popen(
        args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    lines: queue.Queue[str | None] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    said: list[str] = []  # uv's own lines (not its DEBUG ones): the tail of an error
    detail = ""
    reported = started
    while (line := _next_line(lines)) is not None:
        if line and not line.startswith("DEBUG "):
            said.append(line)
        detail = uv_detail(line) or detail
        now = time.monotonic()
        if now - started > INSTALL_TIMEOUT_S:
            process.kill()
            process.wait()
            raise BuildError(f"uv did not finish {step} within {INSTALL_TIMEOUT_S}s")
        if now - reported >= PROGRESS_EVERY_S:
            report(Progress(step, now - started, detail))
            reported = now
    code = process.wait()
    report(Progress(step, time.monotonic() - started, done=True))
    if code != 0:
        tail = "\n".join(f"    {line}" for line in said[-15:])
        raise BuildError(
            f"uv failed {step}:\n{tail}",
            hint="check the requirements in cog.yaml (python_requirements / python_packages)",
        )


def _next_line(lines: queue.Queue[str | None]) -> str | None:
    """The next line, "" when none came within a progress interval, None at the end."""
    try:
        return lines.get(timeout=PROGRESS_EVERY_S)
    except queue.Empty:
        return ""


def _read_lines(stream: IO[bytes], lines: queue.Queue[str | None]) -> None:
    for raw in stream:
        lines.put(raw.decode(errors="replace").rstrip())
    lines.put(None)


_SELECTING = re.compile(r"^DEBUG Selecting: (\S+)")
_FETCHING = re.compile(r"^DEBUG .*GET request for: \S*/([^/\s]+\.(?:whl|tar\.gz|zip))$")


def uv_detail(line: str) -> str | None:
    """What uv is doing now, from one line of `uv -v`: the package it resolves or downloads."""
    if found := _SELECTING.match(line):
        return f"resolving {found.group(1)}"
    if found := _FETCHING.match(line):
        return f"downloading {found.group(1)}"
    if line.startswith("DEBUG ") or not line.strip() or line.lstrip().startswith(("+", "-")):
        return None
    return line.strip()


def missing_system_packages(packages: tuple[str, ...]) -> list[str]:
    """Debian packages from `system_packages` that this host lacks (empty when we cannot tell)."""
    dpkg = shutil.which("dpkg-query")
    if not dpkg or not packages:
        return []
    missing = []
    for package in packages:
        name = re.split(r"[=<>:]", package, maxsplit=1)[0]
        out = subprocess.run([dpkg, "-W", "-f=${Status}", name], capture_output=True, text=True, timeout=30)
        if "install ok installed" not in out.stdout:
            missing.append(name)
    return missing
