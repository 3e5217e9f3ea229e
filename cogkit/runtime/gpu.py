"""Decide how a container gets GPUs: pass them through, refuse with a reason, or fall back to CPU."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

from packaging.version import InvalidVersion, Version

from cogkit.errors import EngineError
from cogkit.image.engine import client

Warn = Callable[[str], None]


def nvidia_runtime_present() -> bool:
    try:
        info = client().info()
    except Exception:  # the engine answered ping before; a failing info() means no GPU support either
        return False
    return "nvidia" in (info.get("Runtimes") or {}) or bool(shutil.which("nvidia-container-cli"))


def host_driver() -> str | None:
    """The host's NVIDIA driver version, from nvidia-smi, or None when it cannot tell."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = out.stdout.strip().splitlines()
    return first[0].strip() if out.returncode == 0 and first else None


def driver_too_old(host: str, minimum: str) -> bool:
    try:
        return Version(host) < Version(minimum)
    except InvalidVersion:
        return False


def resolve_gpus(requested: str | None, *, wants_gpu: bool, min_driver: str | None, warn: Warn) -> str | None:
    """The `--gpus` value to use, or None for CPU. Raises when the host driver is too old."""
    if requested in ("", "none", "0"):
        return None
    if requested is None and not wants_gpu:
        return None
    if not nvidia_runtime_present():
        warn("this image wants a GPU but Docker has no NVIDIA runtime here; running on CPU")
        return None
    driver = host_driver()
    if driver and min_driver and driver_too_old(driver, min_driver):
        raise EngineError(
            f"the host NVIDIA driver {driver} is older than {min_driver}, the minimum for this image's CUDA",
            hint="upgrade the NVIDIA driver, or set an older `cuda:` in cog.yaml and build again",
        )
    return requested or "all"
