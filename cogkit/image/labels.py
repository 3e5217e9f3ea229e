"""Image labels: Cog's names (so Cog tooling reads our images), OCI annotations, and cogkit's own.

run.cog.config                 the resolved cog.yaml, as JSON
run.cog.openapi_schema         the predictor's OpenAPI document, as JSON
run.cog.version                the cogkit version that built it (Cog writes its own version here)
run.cogkit.plan                the build plan, as JSON
run.cogkit.min-nvidia-driver   the oldest host driver the image's CUDA runs on (GPU images only)
run.cogkit.dockerfile-steps    how many history entries cogkit's Dockerfile adds on top of the base
                               image: the layers below them are the base's, which push leaves as is
org.opencontainers.image.*     created, revision and version (from git when available)

Every label depends only on the inputs, so that a rebuild with no change gives the same image:
`created` is SOURCE_DATE_EPOCH when set, else the project's last git commit, else left out.
"""

from __future__ import annotations

import json
import os
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
DOCKERFILE_STEPS = "run.cogkit.dockerfile-steps"
OCI = "org.opencontainers.image"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _git(project_dir: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(project_dir), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def git_info(project_dir: Path) -> dict[str, str]:
    """Revision, version (nearest tag, else short sha) and commit time, when the project is a git checkout."""
    info: dict[str, str] = {}
    revision = _git(project_dir, "rev-parse", "HEAD")
    if revision:
        info["revision"] = revision
        for key, args in (
            ("version", ("describe", "--tags", "--always", "--dirty")),
            ("time", ("log", "-1", "--format=%ct")),
        ):
            value = _git(project_dir, *args)
            if value:
                info[key] = value
    return info


def source_date(project_dir: Path) -> datetime | None:
    """SOURCE_DATE_EPOCH (the reproducible-builds convention), else the last commit's time, else None."""
    raw = os.environ.get("SOURCE_DATE_EPOCH") or git_info(project_dir).get("time")
    try:
        return datetime.fromtimestamp(int(raw), tz=timezone.utc) if raw else None
    except (ValueError, OverflowError, OSError):
        return None


def build_labels(
    plan: BuildPlan,
    project_dir: Path,
    *,
    dockerfile_steps: int | None = None,
    created: datetime | None = None,
) -> dict[str, str]:
    """Every label known before the image exists (the schema comes later, from the built image)."""
    labels = {
        CONFIG: _compact(plan.cog_config),
        COG_VERSION: __version__,
        PLAN: _compact(plan.to_json()),
        f"{OCI}.title": project_dir.resolve().name,
    }
    when = created or source_date(project_dir)
    if when:
        labels[f"{OCI}.created"] = when.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    git = git_info(project_dir)
    if "revision" in git:
        labels[f"{OCI}.revision"] = git["revision"]
    if "version" in git:
        labels[f"{OCI}.version"] = git["version"]
    if plan.min_nvidia_driver:
        labels[MIN_DRIVER] = plan.min_nvidia_driver
    if dockerfile_steps is not None:
        labels[DOCKERFILE_STEPS] = str(dockerfile_steps)
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
