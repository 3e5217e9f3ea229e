"""Access to the Docker engine: the `docker` SDK for images and containers, the CLI for builds.

Builds go through the docker CLI because BuildKit's cache mounts and secrets are not reachable
through the SDK's legacy build endpoint. The CLI on PATH may be a newer client without the buildx
plugin, which cannot run BuildKit builds at all, so we look for one that can and otherwise fall
back to the legacy builder, saying so.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Literal

import docker
import docker.errors

from cogkit.errors import EngineError

START_HINT = (
    "start Docker (e.g. `sudo systemctl start docker`, or `sudo dockerd &`), "
    "or use `--runtime local` to run without Docker"
)
BuilderKind = Literal["buildkit", "legacy"]


@functools.lru_cache(maxsize=1)
def client() -> docker.DockerClient:
    """A client for the engine named by DOCKER_HOST (default: the local socket)."""
    try:
        engine = docker.from_env(timeout=120)
        engine.ping()
    except docker.errors.DockerException as exc:
        raise EngineError(f"no Docker engine answers: {_short(exc)}", hint=START_HINT) from exc
    return engine


def available() -> bool:
    """True when an engine answers; used by `--runtime auto` and by the tests."""
    try:
        client()
    except EngineError:
        client.cache_clear()
        return False
    return True


@dataclass(frozen=True)
class BuilderCLI:
    """A docker CLI and the builder it drives."""

    path: str
    kind: BuilderKind
    notice: str | None = None  # why we fell back to the legacy builder

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_BUILDKIT"] = "1" if self.kind == "buildkit" else "0"
        return env


def _candidates() -> list[str]:
    found = [os.environ.get("COGKIT_DOCKER_CLI", ""), shutil.which("docker") or "", "/usr/bin/docker"]
    unique: list[str] = []
    for path in found:
        if path and os.path.exists(path) and os.path.realpath(path) not in map(os.path.realpath, unique):
            unique.append(path)
    return unique


def _client_major(path: str) -> int:
    out = subprocess.run(
        [path, "version", "-f", "{{.Client.Version}}"], capture_output=True, text=True, timeout=30
    )
    try:
        return int(out.stdout.strip().split(".")[0])
    except ValueError:
        return 0


def _has_buildx(path: str) -> bool:
    out = subprocess.run([path, "buildx", "version"], capture_output=True, text=True, timeout=30)
    return out.returncode == 0


@functools.lru_cache(maxsize=1)
def builder() -> BuilderCLI:
    """Pick the docker CLI to build with: BuildKit when any client can drive it, else legacy."""
    candidates = _candidates()
    if not candidates:
        raise EngineError("no `docker` command found on PATH", hint="install the Docker CLI (docker.io)")
    for path in candidates:
        # Clients before 23.0 embed BuildKit; later ones need the buildx plugin for it.
        major = _client_major(path)
        if 0 < major < 23 or _has_buildx(path):
            return BuilderCLI(path=path, kind="buildkit")
    return BuilderCLI(
        path=candidates[0],
        kind="legacy",
        notice=(
            "BuildKit is not available (no buildx plugin for this docker client); using the legacy "
            "builder: no cache mounts, so rebuilds download packages again, and --secret is unsupported"
        ),
    )


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
