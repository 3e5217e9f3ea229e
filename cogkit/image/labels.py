"""Image labels: Cog's names (so Cog tooling reads our images), OCI annotations, and cogkit's own.

run.cog.config                 the resolved cog.yaml, as JSON
run.cog.openapi_schema         the predictor's OpenAPI document, as JSON
run.cog.version                the cogkit version that built it (Cog writes its own version here)
run.cogkit.plan                the build plan, as JSON
run.cogkit.min-nvidia-driver   the oldest host driver the image's CUDA runs on (GPU images only)
org.opencontainers.image.*     created, revision and version (from git when available)
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cogkit import __version__
from cogkit.plan.models import BuildPlan

CONFIG = "run.cog.config"
OPENAPI_SCHEMA = "run.cog.openapi_schema"
COG_VERSION = "run.cog.version"
PLAN = "run.cogkit.plan"
MIN_DRIVER = "run.cogkit.min-nvidia-driver"
OCI = "org.opencontainers.image"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def git_info(project_dir: Path) -> dict[str, str]:
    """Revision and version (nearest tag, else short sha) of the project, when it is a git checkout."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", "-C", str(project_dir), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None

    info: dict[str, str] = {}
    revision = git("rev-parse", "HEAD")
    if revision:
        info["revision"] = revision
        version = git("describe", "--tags", "--always", "--dirty")
        if version:
            info["version"] = version
    return info


def build_labels(plan: BuildPlan, project_dir: Path, *, now: datetime | None = None) -> dict[str, str]:
    """Every label known before the image exists (the schema comes later, from the built image)."""
    created = (now or datetime.now(timezone.utc)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    labels = {
        CONFIG: _compact(plan.cog_config),
        COG_VERSION: __version__,
        PLAN: _compact(plan.to_json()),
        f"{OCI}.created": created,
        f"{OCI}.title": project_dir.resolve().name,
    }
    git = git_info(project_dir)
    if "revision" in git:
        labels[f"{OCI}.revision"] = git["revision"]
    if "version" in git:
        labels[f"{OCI}.version"] = git["version"]
    if plan.min_nvidia_driver:
        labels[MIN_DRIVER] = plan.min_nvidia_driver
    return labels


def schema_label(schema: dict[str, Any]) -> dict[str, str]:
    return {OPENAPI_SCHEMA: _compact(schema)}


def read_json_label(labels: dict[str, str] | None, name: str) -> dict[str, Any] | None:
    """A JSON label from an image's config, or None when absent or unreadable."""
    raw = (labels or {}).get(name)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
